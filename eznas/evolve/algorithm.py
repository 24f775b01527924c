"""Algorithm 1 of the EZNAS paper on DEAP.

Start: ``population`` random valid programs.  Each generation g:
1. the task samples s spaces and ``nets_per_space`` networks each, fixed by (seed, g) and
   shared by every individual;
2. ``varOr`` makes lambda/2 offspring (crossover = one-point subtree exchange keeping the
   first child, mutation = uniform subtree replacement, or reproduction); invalid ones
   are dropped; lambda/2 new random valid programs are added;
3. the current population and the new programs are evaluated on the sample (each distinct
   program once, network-major); programs invalid on the sample are dropped;
4. the next population is the ``mu`` best plus ``population - mu`` chosen by tournament.
Selection sees only the task's search networks.  The validation tau of each generation's
best program is logged (``best_validation``) for the plot and never used by selection.
A checkpoint (population, hall of fame, random state, log) is written atomically after
every generation, so a resumed run continues exactly as an uninterrupted one.
"""
import os
import random
import statistics
import time

from deap import algorithms, tools
from tqdm import tqdm

from eznas.evolve.fitness_cache import FitnessCache, sample_key
from eznas.evolve.primitives import from_string, make_toolbox
from eznas.fitness import evaluate
from eznas.parallel import backend

INVALID_TRIES = 2000


class Evolution:
    def __init__(self, cfg, task, run, progress=True):
        self.cfg, self.task, self.run, self.progress = cfg, task, run, progress
        self.tb = make_toolbox(cfg.min_depth, cfg.max_depth, cfg.tournament)
        self.hof = tools.HallOfFame(cfg.hof_size)
        self.log = []
        self.pop = []
        self.gen = -1
        self._fit_cache = {}  # (program, sample) -> fitness: with all search networks the sample never changes
        # kept on disk beside the run directories when the run knows its store: a rerun reads them
        self._disk = None
        if cfg.store_identity:
            self._disk = FitnessCache(os.path.dirname(os.path.abspath(run.path)), cfg.store_identity, task.accuracy,
                                      cfg.to_scalar, cfg.size_factor)
            self._fit_cache.update(self._disk.read())

    # ---- helpers ------------------------------------------------------------------
    def random_valid(self, n):
        out, tries = [], 0
        while len(out) < n:
            tries += 1
            if tries > INVALID_TRIES * max(n, 1):
                raise RuntimeError(f"could not draw {n} valid random programs in {tries} tries")
            ind = self.tb.individual()
            if self.task.valid(ind, self.cfg.to_scalar):
                out.append(ind)
        return out

    def seeded(self):
        """The config's seed programs that pass the validity filter (a program string that
        does not parse is an error naming it)."""
        from eznas.program import ProgramError, parse, shown, split_factor

        out = []
        for text in self.cfg.seed_programs:
            try:
                factor = split_factor(parse(text))[1]
                if factor and factor != self.cfg.size_factor:  # without one, the search's factor applies
                    raise ValueError(f"config field 'seed_programs': {shown(text)} is times_{factor}, a search of "
                                     f"size_factor {self.cfg.size_factor!r} would drop that: give size_factor "
                                     f"'{factor}', or the program without the factor")
                ind = from_string(text)
            except (ProgramError, KeyError) as e:
                raise ValueError(f"config field 'seed_programs': {shown(text)} is not a program "
                                 f"({e.reason if isinstance(e, ProgramError) else e})") from None
            if self.task.valid(ind, self.cfg.to_scalar) and str(ind) not in {str(o) for o in out}:
                out.append(ind)
        return out

    def assign(self, inds, sample):
        """Evaluate each distinct program once; returns the individuals valid on the sample
        and how many distinct programs the sample needed a fitness for (the log's
        "evaluated": whether this process had one cached or not, so that a resumed run logs
        what the uninterrupted one does)."""
        skey = sample_key(sample)
        texts = sorted({str(i) for i in inds})
        todo = [t for t in texts if (t, skey) not in self._fit_cache]
        if todo:
            fits, _ = evaluate([self.cfg.program(t) for t in todo], self.task.store_url, sample, self.task.accuracy, self.cfg.jobs, self.cfg.to_scalar,
                               **self.cfg.memory())
            new = {(t, skey): f for t, f in zip(todo, fits)}
            if self._disk is not None:
                self._disk.add(new)
            if len(self._fit_cache) > 200_000:
                self._fit_cache.clear()
            self._fit_cache.update(new)
        by_text = {t: self._fit_cache[(t, skey)] for t in texts}
        kept = []
        for ind in inds:
            f = by_text[str(ind)]
            if f is not None:
                ind.fitness.values = (f,)
                kept.append(ind)
        return kept, len(texts)

    def state(self):
        st = random.getstate()
        return {"gen": self.gen, "population": [[str(i), i.fitness.values[0]] for i in self.pop],
                "hof": [[str(i), i.fitness.values[0]] for i in self.hof],
                "random_state": [st[0], list(st[1]), st[2]], "log": self.log}

    @staticmethod
    def check_checkpoint(ck):
        """ValueError naming the field when a checkpoint's fields are not of the types a
        saved one holds: ``gen`` an integer >= 0, ``population`` a non-empty list and
        ``hof`` a non-empty list of [program, fitness] pairs, ``log`` a list of objects."""
        gen = ck["gen"]
        if isinstance(gen, bool) or not isinstance(gen, int) or gen < 0:
            raise ValueError(f"field 'gen' must be an integer >= 0, got {type(gen).__name__} {str(gen)[:40]}")
        for name in ("population", "hof"):
            v = ck[name]
            if not isinstance(v, list) or not v:
                raise ValueError(f"field {name!r} must be a non-empty list of [program, fitness] pairs")
            for k, pair in enumerate(v):
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                        and isinstance(pair[1], (int, float)) and not isinstance(pair[1], bool)):
                    raise ValueError(f"field {name!r}: item {k} is not a [program, fitness] pair")
        if not isinstance(ck["log"], list) or not all(isinstance(r, dict) for r in ck["log"]):
            raise ValueError("field 'log' must be a list of objects (a row per generation)")

    def restore(self, ck):
        self.check_checkpoint(ck)
        self.gen = ck["gen"]
        random.setstate((ck["random_state"][0], tuple(ck["random_state"][1]), ck["random_state"][2]))
        self.pop = []
        for text, f in ck["population"]:
            ind = from_string(text)
            ind.fitness.values = (f,)
            self.pop.append(ind)
        hof = []
        for text, f in ck["hof"]:
            ind = from_string(text)
            ind.fitness.values = (f,)
            hof.append(ind)
        # restore DEAP's internal order exactly (items best first, keys ascending), ties included
        self.hof.items = hof
        self.hof.keys = [i.fitness for i in reversed(hof)]
        self.log = ck["log"]

    def _record(self, t0, n_off, n_valid_off, n_eval):
        fits = [i.fitness.values[0] for i in self.pop]
        best = max(self.pop, key=lambda i: i.fitness.values[0])
        vfit, _ = evaluate([self.cfg.program(str(best))], self.task.store_url, self.task.held_out(), self.task.accuracy, 1,
                           self.cfg.to_scalar, **self.cfg.memory())
        self.log.append({"gen": self.gen, "best": round(max(fits), 6), "median": round(statistics.median(fits), 6),
                         "best_validation": round(vfit[0], 6) if vfit[0] is not None else "",
                         "valid_offspring": n_valid_off, "offspring": n_off, "evaluated": n_eval,
                         "seconds": round(time.perf_counter() - t0, 3), "best_program": self.cfg.program(str(best))})
        self.run.save_checkpoint(self.state())
        self.run.write_log(self.log)

    # ---- the loop -----------------------------------------------------------------
    def run_all(self):
        cfg = self.cfg
        ck = self.run.load_checkpoint()
        if ck is not None:
            try:
                self.restore(ck)
            except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:  # ProgramError is a ValueError
                raise ValueError(f"{self.run.file('checkpoint.json')}: corrupt checkpoint "
                                 f"({type(e).__name__}: {e})") from None
            if self.gen > cfg.generations:  # a search that would stop at once, exporting programs it never made
                raise ValueError(f"{self.run.file('checkpoint.json')}: checkpoint field 'gen' is {self.gen}, beyond "
                                 f"the config's generations ({cfg.generations}); resume with --generations "
                                 f"{self.gen} or more if the run went that far")
        else:
            random.seed(cfg.seed)
        with backend(cfg.backend, cfg.scheduler or None):
            bar = tqdm(total=cfg.generations + 1, initial=self.gen + 1, desc="evolve", unit="gen", disable=not self.progress)
            if self.gen < 0:
                t0 = time.perf_counter()
                self.gen = 0
                pop = self.seeded()
                pop += self.random_valid(cfg.population - len(pop))
                self.pop, n_eval = self.assign(pop, self.task.sample(0, cfg.spaces_per_gen, cfg.nets_per_space))
                self.pop += self._refill(cfg.population - len(self.pop), 0)
                self.hof.update(self.pop)
                self._record(t0, 0, 0, n_eval)
                bar.update(1)
            while self.gen < cfg.generations:
                t0 = time.perf_counter()
                self.gen += 1
                sample = self.task.sample(self.gen, cfg.spaces_per_gen, cfg.nets_per_space)
                half = max(1, cfg.lambda_ // 2)
                offspring = algorithms.varOr(self.pop, self.tb, half, cfg.cxpb, cfg.mutpb)
                valid_off = [o for o in offspring if self.task.valid(o, cfg.to_scalar)]
                new = valid_off + self.random_valid(half)
                cands, n_eval = self.assign(self.pop + new, sample)
                self.hof.update(cands)
                best = tools.selBest(cands, min(cfg.mu, len(cands)))
                rest = self.tb.select(cands, cfg.population - len(best)) if cands else []
                self.pop = [self.tb.clone(i) for i in best + rest]
                self._record(t0, len(offspring), len(valid_off), n_eval)
                bar.update(1)
                bar.set_postfix(best=f"{self.log[-1]['best']:.3f}", median=f"{self.log[-1]['median']:.3f}")
            bar.close()
        return self.pop, self.hof

    def _refill(self, n, gen):
        """Random valid programs that are also valid on generation ``gen``'s sample."""
        out = []
        while len(out) < n:
            kept, _ = self.assign(self.random_valid(n - len(out)), self.task.sample(gen, self.cfg.spaces_per_gen, self.cfg.nets_per_space))
            out += kept
        return out
