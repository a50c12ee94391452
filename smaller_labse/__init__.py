"""smaller-LaBSE: cut LaBSE's vocabulary down to the languages you need."""

import os

# TensorFlow's C++ start-up notices (CUDA probing, oneDNN) are noise for a CLI user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
