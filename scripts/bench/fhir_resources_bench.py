#!/usr/bin/env python3
"""Parses and validates a corpus of FHIR JSON files with fhir.resources (R4B pydantic models), the
Python reference point of scripts/bench-validate. Prints one JSON line: files, bytes, best and first-pass seconds (the first pass includes building the
pydantic models on first use), failures."""
import json, sys, time
from fhir.resources.R4B import get_fhir_model_class

def main(paths, rounds):
    corpus = []
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        rt = json.loads(data).get("resourceType")
        corpus.append((rt, data))
    classes = {}
    failures = 0
    best = None
    first = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        failures = 0
        for rt, data in corpus:
            try:
                cls = classes.get(rt) or classes.setdefault(rt, get_fhir_model_class(rt))
                cls.model_validate_json(data)
            except Exception:
                failures += 1
        dt = time.perf_counter() - t0
        first = dt if first is None else first
        best = dt if best is None else min(best, dt)
    print(json.dumps({"files": len(corpus), "bytes": sum(len(d) for _, d in corpus),
                      "seconds": best, "first_pass_seconds": first, "failures": failures}))

if __name__ == "__main__":
    rounds = int(sys.argv[1])
    main(sys.argv[2:], rounds)
