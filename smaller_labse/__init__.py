"""smaller-LaBSE: cut LaBSE's vocabulary down to the languages you need."""
