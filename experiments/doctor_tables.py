"""The doctor's table (docs/performance.md) from a committed `mpemba-jax doctor` JSON;
`experiments/make_tables.py` writes it with the other generated tables."""

from pathlib import Path

from mpemba_jax.io.markdown import table


def doctor_table(report: dict, source: str) -> str:
    dev = report["devices"]
    kind = dev["devices"][0]["kind"]
    tp = report["throughput"]
    rows = []
    for config, r in tp["configs"].items():
        rows.append([f"`{config}`", f"{r['particle_steps_per_s']:.3g}",
                     f"{r['of_noise_alone']:.2f}", f"{r['of_roofline']:.3f}"])
    checks = ", ".join(f"{name}: {'passed' if c['passed'] else 'skipped' if c['passed'] is None else 'FAILED'}"
                       for name, c in report["correctness"].items())
    peak = report["peak_memory"]
    mem = (f"peak device memory {peak['device_bytes'] / 2**30:.2f} GiB"
           if peak.get("device_bytes") else
           f"peak host RSS {peak['host_rss_bytes'] / 2**30:.2f} GiB")
    return (
        f"`{report['command']}` on {dev['backend']} ({kind}, {dev['device_count']} device(s), "
        f"{dev['cpu_count']} CPU cores), JAX {report['versions']['jax']}, "
        f"{report['wall_seconds']:.0f} s wall"
        + (f", load average {report['load_average'][0]:.1f} when it started (timings are wall "
           "clock on a machine other jobs may share)" if report.get("load_average") else "")
        + f"; JSON: [`{source}`]({Path(source).relative_to('docs')}).\n\n"
        f"Correctness: {checks}.\n\n"
        f"Throughput at {tp['n_particles']:,} particles x {tp['n_steps']} steps (streaming "
        f"bandwidth measured {tp['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s); {mem}.\n\n"
        + table(["integrator/noise", "particle-steps/s", "of the noise alone", "of the roofline"],
                rows))

