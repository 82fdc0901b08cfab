"""flowbench: a replication suite for conditional normalizing flows.

Replicates Xiao, Yan & Amit (2019), "A Method to Model Conditional Distributions with
Normalizing Flows" (arXiv 1911.02052), against the four-loss INN of Ardizzone et al. (2018)
and the conditional INN of Ardizzone et al. (2019).

The library knows nothing of Snakemake: tasks, flows, methods, metrics and training are
separate modules; ``workflow/scripts`` are thin wrappers around them.
"""

__version__ = "0.1.0"
