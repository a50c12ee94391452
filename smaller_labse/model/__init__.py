"""The encoder: its configuration (`config`), our TensorFlow rebuild (`encoder`), the proofs that
it computes what the source does (`verification`) and a NumPy reference (`numpy_reference`)."""
