"""A toy Hydra app with two competing objectives, f1 = x² and f2 = (x - shift)², so every x in
[0, shift] is on the Pareto front. It writes a metrics.json like a training run (the report reads
it) and returns [f1, f2] in the order of ``optimized_metric``, or one value when that is a name."""
import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    x = float(cfg.x)
    if cfg.fail_above is not None and x > float(cfg.fail_above):
        raise ValueError(f"x={x} is above fail_above={cfg.fail_above}")
    names = list(cfg.optimized_metric) if isinstance(cfg.optimized_metric, ListConfig) else [cfg.optimized_metric]
    final = {"extrap/mse": x * x, "extrap/ks/gaudin": (x - float(cfg.shift)) ** 2}
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "metrics.json").write_text(json.dumps({
        "status": "completed", "regime": "full", "seed": 0, "epochs": 1, "optimized_metric": names,
        "final": final, "best": None}))
    values = [final[n] for n in names]
    return values if len(values) > 1 else values[0]


if __name__ == "__main__":
    main()
