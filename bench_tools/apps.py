from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark data tools (`make bench`): installed only when BENCH_TOOLS is on."""

    name = "bench_tools"
    verbose_name = "Benchmark tools"
