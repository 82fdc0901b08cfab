# Performance benchmark (off the default path): `snakemake --cores 2 benchmark`.
# Seconds per training iteration and peak memory of each method at each batch size, in one job
# (so the ratios compare like with like), and the fraction of the plain-matmul limit ours reaches;
# and the precision of each posterior metric against the sample size (what n_eval and probe_n need).
from flowbench.config import digest

BENCH = f"{RESULTS}/benchmark"


rule benchmark:
    input:
        f"{BENCH}/step_costs.csv",
        f"{BENCH}/matmul_fraction.json",
        f"{BENCH}/scaling.png",
        f"{BENCH}/metric_precision.csv",
        f"{BENCH}/op_profile.csv",


rule benchmark_costs:
    output:
        costs=f"{BENCH}/step_costs.csv",
        fraction=f"{BENCH}/matmul_fraction.json",
        figure=f"{BENCH}/scaling.png",
    log:
        f"{RESULTS}/logs/benchmark/step_costs.log",
    benchmark:
        f"{RESULTS}/benchmarks/benchmark/step_costs.tsv"
    threads: config["benchmark"]["threads"]
    resources:
        **job_resources("benchmark_costs"),
    params:
        device=config.get("device", "auto"),
        identity=digest(config.get("benchmark")),
    script:
        "../scripts/benchmark_costs.py"


rule benchmark_precision:
    output:
        f"{BENCH}/metric_precision.csv",
    log:
        f"{RESULTS}/logs/benchmark/metric_precision.log",
    benchmark:
        f"{RESULTS}/benchmarks/benchmark/metric_precision.tsv"
    threads: 1
    resources:
        **job_resources("benchmark_precision"),
    script:
        "../scripts/benchmark_precision.py"


rule benchmark_profile:
    output:
        f"{BENCH}/op_profile.csv",
    log:
        f"{RESULTS}/logs/benchmark/op_profile.log",
    benchmark:
        f"{RESULTS}/benchmarks/benchmark/op_profile.tsv"
    threads: config["benchmark"]["threads"]
    resources:
        **job_resources("benchmark_profile"),
    params:
        device=config.get("device", "auto"),
        identity=digest(config.get("benchmark")),
    script:
        "../scripts/benchmark_profile.py"
