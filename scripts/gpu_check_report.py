#!/usr/bin/env python3
"""Reads the step outputs of scripts/gpu_check.sh in DIR and writes
DIR/results.json and DIR/results.md: the benchmark table (drift fp32 / bf16
beside PyTorch fp32 eager, --amp bf16 --fused-adam, --compile), the ratios
issue 14 asks for with their targets, the CUDA test summary, and the bf16 vs
fp32 MNIST runs (wall time, guided accuracy). Missing pieces stay null and
are listed under "missing"."""
import json
import os
import re
import sys


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def last_json(path):
    text = read(path)
    if not text:
        return None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main(d):
    steps = {}
    for line in (read(os.path.join(d, "steps.tsv")) or "").splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            steps[parts[0]] = {"rc": int(parts[1]), "seconds": float(parts[2])}
    res = {"preflight": (read(os.path.join(d, "preflight.txt")) or "").splitlines(), "steps": steps,
           "bench": {}, "ratios": {}, "train": {}, "tests": {}, "missing": []}

    # ---- tests
    ct = read(os.path.join(d, "ctest_cuda.txt"))
    if ct is not None:
        m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", ct)
        res["tests"]["ctest_cuda"] = ({"passed_percent": int(m.group(1)), "failed": int(m.group(2)),
                                       "total": int(m.group(3))} if m else {"summary": "no ctest summary"})
        skipped = len(re.findall(r"Skipped|SKIPPED", ct))
        res["tests"]["ctest_cuda"]["skip_mentions"] = skipped
        res["tests"]["ctest_cuda"]["failed_tests"] = re.findall(r"\d+ - (\S+) \(Failed\)", ct)
    else:
        res["missing"].append("ctest -R cuda")
    rb = read(os.path.join(d, "registry_backend.txt"))
    if rb is not None:
        res["tests"]["registry_backend"] = {"rc": steps.get("registry_backend", {}).get("rc"),
                                            "tail": rb.strip().splitlines()[-3:]}

    # ---- benchmarks
    who = ["drift_fp32", "drift_bf16", "drift_fp32_graphs", "drift_bf16_graphs", "torch_fp32", "torch_amp",
           "torch_compile"]
    for f in sorted(os.listdir(d)):
        m = re.match(r"bench_([a-z0-9]+)_(drift_fp32_graphs|drift_bf16_graphs|drift_fp32|drift_bf16|torch_fp32|"
                     r"torch_amp|torch_compile)\.txt$", f)
        if not m:
            continue
        j = last_json(os.path.join(d, f))
        row = None
        if j:
            row = {"train_ms": j["train"]["median_ms"], "forward_ms": j["forward"]["median_ms"],
                   "ddim50_s": (j.get("ddim50") or {}).get("seconds", [None])[0],
                   "peak_gpu_mib": j.get("peak_gpu_mib"), "batch": j.get("batch")}
        res["bench"].setdefault(m.group(1), {})[m.group(2)] = row
    for preset, b in res["bench"].items():
        g = lambda w, k: (b.get(w) or {}).get(k)  # noqa: E731
        best_train = min([v for v in (g("drift_fp32", "train_ms"), g("drift_bf16", "train_ms")) if v], default=None)
        # DDIM: the best drift run, CUDA graphs included (the graph runs time forward/train briefly only).
        best_ddim = min([v for v in (g(w, "ddim50_s") for w in ("drift_fp32", "drift_bf16", "drift_fp32_graphs",
                                                                 "drift_bf16_graphs")) if v], default=None)
        torch_mem = min([v for v in (g("torch_fp32", "peak_gpu_mib"), g("torch_amp", "peak_gpu_mib")) if v],
                        default=None)
        r = {
            # issue 14 targets: train <= 0.5x torch fp32 eager and <= 1.0x torch --amp bf16 --fused-adam;
            # DDIM-50 <= 0.5x torch fp32 eager and <= 1.0x torch --amp bf16; peak memory below PyTorch's.
            "train_vs_torch_fp32": {"value": ratio(best_train, g("torch_fp32", "train_ms")), "target": 0.5},
            "train_vs_torch_amp_fused": {"value": ratio(best_train, g("torch_amp", "train_ms")), "target": 1.0},
            "train_vs_torch_compile": {"value": ratio(best_train, g("torch_compile", "train_ms")), "target": None},
            "ddim50_vs_torch_fp32": {"value": ratio(best_ddim, g("torch_fp32", "ddim50_s")), "target": 0.5},
            "ddim50_vs_torch_amp": {"value": ratio(best_ddim, g("torch_amp", "ddim50_s")), "target": 1.0},
            "ddim50_vs_torch_compile": {"value": ratio(best_ddim, g("torch_compile", "ddim50_s")), "target": None},
            "peak_gpu_mem_vs_torch": {"value": ratio(g("drift_bf16", "peak_gpu_mib") or g("drift_fp32", "peak_gpu_mib"),
                                                     torch_mem), "target": 1.0},
        }
        for v in r.values():
            v["met"] = None if v["value"] is None or v["target"] is None else v["value"] <= v["target"]
        res["ratios"][preset] = r
    if not res["bench"]:
        res["missing"].append("benchmarks")

    # ---- training
    for prec in ("fp32", "bf16"):
        tr, ev = read(os.path.join(d, f"train_{prec}.txt")), read(os.path.join(d, f"eval_{prec}.txt"))
        if tr is None and ev is None:
            continue
        acc = None
        if ev:
            m = re.search(r"classification accuracy of conditional samples \(guidance [\d.]+\): ([\d.]+)%", ev)
            acc = float(m.group(1)) if m else None
        res["train"][prec] = {"train_wall_s": steps.get(f"train_{prec}", {}).get("seconds"),
                              "train_rc": steps.get(f"train_{prec}", {}).get("rc"),
                              "eval_wall_s": steps.get(f"eval_{prec}", {}).get("seconds"),
                              "guided_accuracy_percent": acc}
    t = res["train"]
    if "fp32" in t and "bf16" in t:
        a32, a16 = t["fp32"]["guided_accuracy_percent"], t["bf16"]["guided_accuracy_percent"]
        w32, w16 = t["fp32"]["train_wall_s"], t["bf16"]["train_wall_s"]
        t["bf16_accuracy_ok"] = None if a16 is None else a16 >= 99.0 and (a32 is None or a16 >= a32 - 0.5)
        t["bf16_faster"] = None if not (w32 and w16) else w16 < w32
    else:
        res["missing"].append("bf16 vs fp32 MNIST training")

    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res, who)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    print(md)


def fmt(v, p=2):
    return "" if v is None else (f"{v:.{p}f}" if isinstance(v, float) else str(v))


def markdown(res, who):
    out = ["# GPU check (scripts/gpu_check.sh)", ""]
    out += ["```"] + res["preflight"] + ["```", ""]
    c = res["tests"].get("ctest_cuda")
    if c:
        out.append(f"ctest -R cuda: {c.get('passed_percent', '?')}% passed, {c.get('failed', '?')} failed of "
                   f"{c.get('total', '?')} {('(' + ', '.join(c['failed_tests']) + ')') if c.get('failed_tests') else ''}")
    rb = res["tests"].get("registry_backend")
    if rb:
        out.append(f"drift-test-ops backend: rc {rb['rc']}")
    out.append("")
    for preset, b in res["bench"].items():
        out += [f"## {preset} (batch {next((r['batch'] for r in b.values() if r), '?')})", "",
                "| run | train step ms | forward ms | DDIM-50 s | peak GPU MiB |", "|---|---|---|---|---|"]
        for w in who:
            if w in b:
                r = b[w] or {}
                out.append(f"| {w} | {fmt(r.get('train_ms'))} | {fmt(r.get('forward_ms'))} | "
                           f"{fmt(r.get('ddim50_s'), 3)} | {fmt(r.get('peak_gpu_mib'), 0)} |")
        out += ["", "| ratio (drift best / PyTorch) | value | target | met |", "|---|---|---|---|"]
        for k, v in res["ratios"][preset].items():
            out.append(f"| {k} | {fmt(v['value'], 3)} | {fmt(v['target'], 1)} | {fmt(v['met'])} |")
        out.append("")
    if res["train"]:
        out += ["## class-conditional MNIST, bf16 vs fp32", "",
                "| precision | train wall s | eval wall s | guided accuracy % |", "|---|---|---|---|"]
        for p in ("fp32", "bf16"):
            if p in res["train"]:
                r = res["train"][p]
                out.append(f"| {p} | {fmt(r['train_wall_s'], 1)} | {fmt(r['eval_wall_s'], 1)} | "
                           f"{fmt(r['guided_accuracy_percent'])} |")
        out.append(f"\nbf16 accuracy >= 99% (and within 0.5 of fp32): {res['train'].get('bf16_accuracy_ok')}; "
                   f"bf16 faster: {res['train'].get('bf16_faster')}")
    failed = [k for k, v in res["steps"].items() if v["rc"] != 0]
    out += ["", "steps that failed: " + (", ".join(failed) if failed else "none"),
            "missing: " + (", ".join(res["missing"]) if res["missing"] else "nothing"), ""]
    return "\n".join(out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu_check_out")
