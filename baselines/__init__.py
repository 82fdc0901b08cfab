"""Baselines the paper argues with: the four-loss INN (Ardizzone et al. 2018) and the
conditional INN (Ardizzone et al. 2019). Both use flowbench's flow builder."""
