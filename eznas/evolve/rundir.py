"""A run's directory: resolved config, library versions, per-generation log, atomic
checkpoints, hall of fame and exported programs."""
import csv
import json
import os
import platform
import time


def atomic_write(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def versions():
    import deap
    import numpy
    import scipy
    import torch
    import zarr

    import eznas

    return {"python": platform.python_version(), "eznas": eznas.__version__, "torch": torch.__version__,
            "deap": deap.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__, "zarr": zarr.__version__,
            "platform": platform.platform()}


class RunDir:
    LOG_COLUMNS = ["gen", "best", "median", "best_validation", "valid_offspring", "offspring", "evaluated", "seconds", "best_program"]

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    @classmethod
    def new(cls, root="runs", name=None):
        name = name or time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(root, name)
        k = 1
        while os.path.exists(path):
            path = os.path.join(root, f"{name}-{k}")
            k += 1
        return cls(path)

    def file(self, name):
        return os.path.join(self.path, name)

    def write_config(self, cfg_dict):
        atomic_write(self.file("config.json"), json.dumps(cfg_dict, indent=2, sort_keys=True))
        atomic_write(self.file("versions.json"), json.dumps(versions(), indent=2))

    def read_config(self):
        with open(self.file("config.json")) as f:
            return json.load(f)

    def save_checkpoint(self, state):
        atomic_write(self.file("checkpoint.json"), json.dumps(state))

    def load_checkpoint(self):
        p = self.file("checkpoint.json")
        if not os.path.exists(p):
            return None
        try:
            with open(p) as f:
                return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: corrupt checkpoint ({e})") from None

    def write_log(self, rows):
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, self.LOG_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r)
        atomic_write(self.file("log.csv"), buf.getvalue())

    def write_json(self, name, obj):
        atomic_write(self.file(name), json.dumps(obj, indent=2))
