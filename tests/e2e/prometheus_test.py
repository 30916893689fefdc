#!/usr/bin/env python3
"""The Prometheus alert rules and the Grafana dashboard against the real `gpudoctor watch`.

Usage: prometheus_test.py GPUDOCTOR SIM_LIB SOURCE_DIR
Exit 0 when every check passes, 1 when one fails, 77 (skipped) only when
promtool is not installed.

1. `promtool check rules` (with --lint=all --lint-fatal) on
   deploy/prometheus/alerts.yml, and `promtool test rules` on
   tests/prometheus/alerts_test.yml; that test file has, for every alert, a
   case where it fires and one where it must not. Every alert has a severity,
   a summary and description naming the node (and the GPU when it is about
   one), and a runbook naming a gpudoctor command.
2. The Xid lists of the two Xid alerts match gpudoctor's own Xid catalogue
   (`gpudoctor xid --catalog --json`), so the rules cannot fall behind it.
3. The real `gpudoctor watch` runs on the simulator (a healthy 8x H100 node,
   and the same node with a lost GPU, Xids, throttling, persistence off and
   memory faults; the second also with --metrics-compat dcgm; and the healthy
   node again after a card swap, on the same history). Each --textfile
   output goes through `promtool check metrics`; what promtool says is printed
   as it said it.
4. Every PromQL expression of the rules and the dashboard names only metrics
   that gpudoctor exports (the `# TYPE` lines of those outputs), Prometheus's
   `up`, or the names listed in PENDING_METRICS, and only labels those
   metrics carry.
5. The dashboard's structure: the datasource, instance and gpu variables,
   unique panel ids, every panel on the datasource variable with targets that
   have an expr, node and GPU panels filtered by their variables.
6. The real outputs replayed through the rules and the dashboard's queries
   with `promtool test rules`: on the faulty node exactly the expected alerts
   fire (one per fault, on the right GPU) and every dashboard query returns
   data; on the healthy node no alert fires; after the swap the inventory
   alert fires (once gpudoctor_inventory_changes_total counts it).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

GD, SIM, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
ALERTS = os.path.join(SRC, "deploy/prometheus/alerts.yml")
UNIT_TESTS = os.path.join(SRC, "tests/prometheus/alerts_test.yml")
DASHBOARD = os.path.join(SRC, "deploy/grafana/gpudoctor.json")
SCEN = os.path.join(SRC, "tests/scenarios/healthy-8xh100")

# Metric names the rules and the dashboard already use but gpudoctor does not
# export yet (they are being added). Remove a name once `watch` exports it;
# the test says so when it sees one in the output.
PENDING_METRICS = set()  # none now: gpudoctor_ledger_latched and gpudoctor_inventory_changes_total are exported
# The labels the pending metrics are announced with.
PENDING_METRIC_LABELS = {"gpudoctor_ledger_latched": {"id", "gpu", "severity", "latch"},
                         "gpudoctor_inventory_changes_total": set()}
# Not gpudoctor's, but always there: Prometheus's own per-target metric.
PROMETHEUS_METRICS = {"up"}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}

# What promlint (promtool check metrics) says about the dcgm-exporter names
# that `--metrics-compat dcgm` exports on purpose, so that dcgm-exporter's
# Grafana dashboard works unchanged (docs/watch.md): dcgm-exporter's
# `modelName` label, and its counters whose names end in `_TOTAL`, or in
# nothing, instead of `_total`. Only these, and only on DCGM_* names, are
# accepted; the test prints them every time. Empty this to make it strict.
DCGM_KNOWN_LINT = {
    "label names should be written in 'snake_case' not 'camelCase'",
    'counter metrics should have "_total" suffix',
}

# Xid alert lists against the catalogue: GpudoctorFatalXid takes every code
# the catalogue rates critical except these; GpudoctorXidResetAdvised takes
# the catalogue's "reset GPU" codes rated warning plus these. Why, in the
# comment above the Xid alerts in alerts.yml.
FATAL_XID_EXCEPT = {154}
ADVISED_XID_EXTRA = {94, 154}

failures, passed, notes = [], 0, []


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)
    return ok


def run(cmd, stdin=None, env=None, timeout=120):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ----------------------------------------------------------------- PromQL
#
# A small PromQL scanner: enough to find every vector selector (a metric name,
# with or without {matchers}) in an expression. It skips what only looks like
# a name: strings, comments, function and aggregation names (an identifier
# followed by "("), keywords (and, or, unless, bool, offset, ...), the label
# lists after by/without/on/ignoring/group_left/group_right, durations and
# numbers (1h30m, 0x40, 1e6), ranges and subqueries in [...], label names
# inside {...}, and Grafana variables ($gpu, ${gpu}, $__rate_interval).

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "start", "end"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*")


def skip_string(s, i):
    """Index just past the string literal that starts at s[i]."""
    quote, i = s[i], i + 1
    while i < len(s):
        if s[i] == "\\" and quote != "`":
            i += 2
            continue
        if s[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {s!r}")


def read_string(s, i):
    """(value, index past it) of the string literal at s[i]; escapes resolved."""
    j = skip_string(s, i)
    body = s[i + 1:j - 1]
    if s[i] != "`":
        body = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
    return body, j


def skip_group(s, i, opening, closing):
    """Index just past the bracket that closes the one at s[i] (strings skipped)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = skip_string(s, i)
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {opening}{closing} in {s!r}")


def read_matchers(s, i):
    """[(label, op, value)], index past the closing brace; s[i] is '{'."""
    out, i = [], i + 1
    while True:
        while i < len(s) and (s[i].isspace() or s[i] == ","):
            i += 1
        if i >= len(s):
            raise ValueError(f"unterminated {{ in {s!r}")
        if s[i] == "}":
            return out, i + 1
        m = MATCHER.match(s, i)
        if not m or m.end() >= len(s) or s[m.end()] not in "\"'`":
            raise ValueError(f"bad label matcher at {s[i:i + 30]!r}")
        value, i = read_string(s, m.end())
        out.append((m.group(1), m.group(2), value))


def selectors(expr):
    """Every vector selector in expr: [(metric name, [(label, op, value)])]."""
    out, i, n = [], 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":                       # comment to the end of the line
            nl = expr.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif c in "\"'`":
            i = skip_string(expr, i)
        elif c == "$" or expr.startswith("[[", i):
            m = GRAFANA_VAR.match(expr, i)
            if not m:
                raise ValueError(f"stray $ in {expr!r}")
            i = m.end()
        elif c == "[":                       # range, subquery or duration
            i = skip_group(expr, i, "[", "]")
        elif c == "{":                       # selector without a name: {__name__="x"}
            matchers, i = read_matchers(expr, i)
            names = [v for label, op, v in matchers if label == "__name__" and op == "="]
            out.append((names[0] if names else None, matchers))
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = DURATION.match(expr, i) or NUMBER.match(expr, i)
            i = m.end()
        elif IDENT.match(expr, i):
            word = IDENT.match(expr, i).group()
            i += len(word)
            j = i
            while j < n and expr[j].isspace():
                j += 1
            nxt = expr[j] if j < n else ""
            low = word.lower()
            if low in LABEL_LIST_KEYWORDS:
                if nxt == "(":
                    i = skip_group(expr, j, "(", ")")
            elif low in KEYWORDS or word in AGGREGATIONS or nxt == "(":
                pass                          # keyword, aggregation or function name
            else:
                matchers = []
                if nxt == "{":
                    matchers, i = read_matchers(expr, j)
                out.append((word, matchers))
        else:
            i += 1                            # operator, parenthesis, comma
    return out


def metric_names(expr):
    return {name for name, _ in selectors(expr)}


def grafana_vars(expr):
    return {next(g for g in m.groups() if g) for m in GRAFANA_VAR.finditer(expr)}


def parser_self_test():
    cases = [
        ('sum by (instance) (rate(foo_total{job="x", a=~"b|c"}[5m])) > 0', {"foo_total"}),
        ("a and on(instance, gpu) group_left(uuid, model) b offset 10m", {"a", "b"}),
        ("count(x == 1) or vector(0)", {"x"}),
        ("m > bool 3", {"m"}),
        ('label_replace(up{job="g"}, "dst", "$1", "src", "(.*)")', {"up"}),
        ("max_over_time(x[$__range]) - min_over_time(x[1h30m:5m])", {"x"}),
        ('time() - t{instance=~"$instance"}', {"t"}),
        ('y{a="}{\\"by"} unless ignoring(b) z', {"y", "z"}),
        ("sum without (gpu) (w) / ON (x) v", {"w", "v"}),
        ("1e6 * q + 0x40 - .5 * 2h", {"q"}),
        ("topk(3, sum by (gpu) (r))", {"r"}),
        ("# not_a_metric in a comment\nreal_metric", {"real_metric"}),
        ('{__name__="by_name", gpu!=""}', {"by_name"}),
        ("sum(s) by (le) ", {"s"}),
        ("floor(c / 8) % 2 == 1 or floor(c / 64) % 2 == 1", {"c"}),
        ("increase(k[$__rate_interval]) AND k2", {"k", "k2"}),
    ]
    for expr, want in cases:
        try:
            got = metric_names(expr)
        except ValueError as e:
            got = f"error: {e}"
        check(f"PromQL scanner: {expr!r}", got == want, f"got {got}, want {want}")
    got = selectors('foo_total{job="x", a=~"b|c"}')
    check("PromQL scanner reads matchers", got == [("foo_total", [("job", "=", "x"), ("a", "=~", "b|c")])],
          str(got))
    check("PromQL scanner finds Grafana variables",
          grafana_vars('x{a=~"$instance",b="${gpu}"}[$__rate_interval]') == {"instance", "gpu", "__rate_interval"})


# ------------------------------------------------------- exposition text

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?\s*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text):
    """{"types": {name: type}, "samples": [(name, [(label, raw value)], value, has_timestamp)]}"""
    types, samples, bad = {}, [], []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            types[parts[2]] = parts[3]
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            bad.append(line)
            continue
        labels, body = [], (m.group(2) or "{}")[1:-1]
        pos = 0
        while pos < len(body):
            lm = LABEL.match(body, pos)
            if not lm:
                bad.append(line)
                break
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        samples.append((m.group(1), labels, m.group(3), m.group(4) is not None))
    return {"types": types, "samples": samples, "bad": bad}


# --------------------------------------------------------------- watch

def bus_id(gpu):
    """The scenario's 00000000:18:00.0 as gpudoctor labels it: 0000:18:00.0."""
    domain, rest = gpu["bus_id"].split(":", 1)
    return f"{domain[-4:]}:{rest}".lower()


def write_scenario(folder, faulty):
    d = json.load(open(os.path.join(SCEN, "nvml.json")))
    g = d["gpus"]
    if faulty:
        g[0]["clock_event_reasons"] = 0x48        # HW slowdown + HW thermal slowdown
        g[1]["persistence_mode"] = False
        g[2]["remapped_rows"]["failure"] = True
        g[3]["retired_pages_pending"] = True
        g[7]["clock_event_reasons"] = 0x20        # SW thermal slowdown
        d["faults"] = [{"call": "*", "gpu": 4, "return": "GPU_IS_LOST", "at_sample": 2}]
        d["xid_events"] = [{"gpu": 4, "xid": 79, "at_sample": 2},   # fatal, with the loss
                           {"gpu": 5, "xid": 13, "at_sample": 2},   # an application's
                           {"gpu": 6, "xid": 48, "at_sample": 2},   # fatal, twice
                           {"gpu": 6, "xid": 48, "at_sample": 3}]
    path = os.path.join(folder, "nvml.json")
    with open(path, "w") as f:
        json.dump(d, f)
    return path, d


def run_watch(tmp, name, faulty, extra=()):
    """A fresh node: its own folder, scenario, copy of the root tree and history."""
    folder = os.path.join(tmp, name)
    os.mkdir(folder)
    _, scen = write_scenario(folder, faulty)
    # watch writes its state (the health ledger) under --root: each run gets
    # its own copy of the node's tree, never the committed one.
    shutil.copytree(os.path.join(SCEN, "root"), os.path.join(folder, "root"), symlinks=True)
    return run_daemon(folder, name, "gpudoctor.prom", extra), scen


def run_daemon(folder, name, textfile_name, extra=()):
    """One `watch` of 4 ticks on the node in folder; the text of its --textfile."""
    textfile = os.path.join(folder, textfile_name)
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(folder, "nvml.json"))
    cmd = [GD, "watch", "--root", os.path.join(folder, "root"), "--nvml", SIM, "--interval", "300ms",
           "--timeout", "5", "--max-ticks", "4", "--no-listen", "--db", os.path.join(folder, "history.db"),
           "--textfile", textfile, *extra]
    rc, _, err = run(cmd, env=env, timeout=60)
    ok = check(f"watch ({name}) exits 0", rc == 0 and os.path.exists(textfile), f"rc {rc}: {err[-800:]}")
    return open(textfile).read() if ok else ""


def swap_card(tmp):
    """The healthy node's first GPU replaced while the daemon was stopped (another
    UUID and serial at its bus id); a new daemon on the same history. Its text."""
    folder = os.path.join(tmp, "healthy")
    path = os.path.join(folder, "nvml.json")
    d = json.load(open(path))
    d["gpus"][0]["uuid"] = "GPU-5a5a5a5a-0000-4c1e-9d2b-000007daaf00"
    d["gpus"][0]["serial"] = "0323116649999"
    with open(path, "w") as f:
        json.dump(d, f)
    return run_daemon(folder, "after a card swap", "swapped.prom")


def pending_check(metric, name, ok, detail=""):
    """check(), except that while metric is in PENDING_METRICS a failure is a loud note."""
    if metric in PENDING_METRICS and not ok:
        notes.append(f"PENDING ({metric}), would fail: {name}: {detail}")
        return False
    return check(name, ok, detail)


def promtool_check_metrics(name, text, dcgm):
    rc, out, err = run(["promtool", "check", "metrics"], stdin=text)
    said = (out + err).strip()
    print(f"promtool check metrics on {name}: exit {rc}" + (":" if said else ", nothing to say"))
    problems = {}
    for line in said.splitlines():
        problems[line] = problems.get(line, 0) + 1
    unknown = []
    for line, count in sorted(problems.items()):
        print(f"    {line}" + (f"   (x{count})" if count > 1 else ""))
        metric, _, problem = line.partition(" ")
        if not (dcgm and metric.startswith("DCGM_") and problem in DCGM_KNOWN_LINT):
            unknown.append(line)
    if dcgm and problems and not unknown:
        print("    (all of them dcgm-exporter's own names, DCGM_KNOWN_LINT)")
    check(f"promtool check metrics: {name}", rc == 0 or (rc == 3 and not unknown),
          f"exit {rc}; not accepted: {unknown or said}")


# ----------------------------------------------------------- the rules

def load_rules():
    doc = yaml.safe_load(open(ALERTS))
    groups = doc["groups"]
    check("alerts.yml: one group named gpudoctor", [g["name"] for g in groups] == ["gpudoctor"],
          str([g["name"] for g in groups]))
    return [r for g in groups for r in g["rules"]]


def check_rule_files():
    rc, out, err = run(["promtool", "check", "rules", "--help"])
    lint = ["--lint=all", "--lint-fatal"] if "--lint-fatal" in out + err else ["--lint=all"]
    rc, out, err = run(["promtool", "check", "rules", *lint, ALERTS])
    check("promtool check rules " + " ".join(lint) + " alerts.yml", rc == 0, out + err)
    rc, out, err = run(["promtool", "test", "rules", UNIT_TESTS])
    check("promtool test rules alerts_test.yml", rc == 0 and "SUCCESS" in out + err, (out + err)[-3000:])


def check_rule_hygiene(rules, labelled):
    """Severity, annotations, and the unit tests' coverage of every alert.
    labelled: {metric: set of labels its samples carry} from the real outputs."""
    alerts = {r["alert"]: r for r in rules if "alert" in r}
    check("alerts.yml has only alerting rules", len(alerts) == len(rules), str([r for r in rules if "alert" not in r]))
    for name, r in alerts.items():
        sev = r.get("labels", {}).get("severity", "")
        check(f"{name}: severity", sev in ("warning", "critical") or sev == "{{ $labels.severity }}", sev)
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            check(f"{name}: annotation {key}", bool(ann.get(key)), str(ann))
        for key in ("summary", "description"):
            check(f"{name}: {key} names the instance", "$labels.instance" in ann.get(key, ""), ann.get(key, ""))
        # About one GPU when a metric it reads carries a gpu label (as seen in
        # the real outputs, or announced for a pending metric); an aggregation
        # that drops gpu would make that wrong, so none of the rules does.
        per_gpu = any("gpu" in labelled.get(m, PENDING_METRIC_LABELS.get(m, set())) for m in metric_names(r["expr"]))
        if per_gpu:
            for key in ("summary", "description"):
                check(f"{name}: {key} names the GPU", "$labels.gpu" in ann.get(key, ""), ann.get(key, ""))
        check(f"{name}: runbook names a gpudoctor command", "`gpudoctor " in ann.get("runbook", ""),
              ann.get("runbook", ""))

    tests = yaml.safe_load(open(UNIT_TESTS))
    fires, quiet = set(), set()
    for group in tests["tests"]:
        for t in group.get("alert_rule_test", []):
            check(f"alerts_test.yml tests an existing alert ({t['alertname']})", t["alertname"] in alerts)
            (fires if t.get("exp_alerts") else quiet).add(t["alertname"])
    for name in alerts:
        check(f"{name}: a unit test where it fires", name in fires)
        check(f"{name}: a unit test where it does not fire", name in quiet)
    return alerts


def check_xid_lists(alerts):
    rc, out, err = run([GD, "xid", "--catalog", "--json"])
    if not check("gpudoctor xid --catalog --json", rc == 0, err):
        return
    catalogue = json.loads(out)
    codes = lambda rows: {c for r in rows for c in range(r["first"], r["last"] + 1)}  # noqa: E731
    want = {
        "GpudoctorFatalXid": codes(r for r in catalogue if r["severity"] == "critical") - FATAL_XID_EXCEPT,
        "GpudoctorXidResetAdvised": codes(r for r in catalogue if r["action"] == "reset GPU"
                                          and r["severity"] == "warning") | ADVISED_XID_EXTRA,
    }
    for name, expected in want.items():
        lists = [v for m, matchers in selectors(alerts[name]["expr"]) for label, op, v in matchers if label == "xid"]
        check(f"{name}: has its Xid list", len(lists) >= 1, alerts[name]["expr"])
        for v in lists:
            got = {int(c) for c in v.split("|")}
            check(f"{name}: Xid list matches the catalogue", got == expected,
                  f"missing {sorted(expected - got)}, extra {sorted(got - expected)}")
    check("no Xid is both fatal and reset-advised",
          not (want["GpudoctorFatalXid"] & want["GpudoctorXidResetAdvised"]))


# ------------------------------------------------------------ dashboard

def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def dashboard_targets(dash):
    """[(panel, section title, target)] in order; section = the row above the panel."""
    out, section = [], ""
    for p in dash["panels"]:
        if p.get("type") == "row":
            section = p.get("title", "")
            for child in p.get("panels", []):
                out += [(child, section, t) for t in child.get("targets", [])]
            continue
        out += [(p, section, t) for t in p.get("targets", [])]
    return out


def variable_query(v):
    q = v.get("query", "")
    return q.get("query", "") if isinstance(q, dict) else q


def label_values_selector(query):
    """The series selector of Grafana's label_values(SELECTOR, LABEL)."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    return m.group(1) if m else query


def check_dashboard(dash, exported, labelled):
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        check(f"dashboard: has {key}", key in dash)
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    check("dashboard: datasource variable (type datasource, prometheus)",
          ds.get("type") == "datasource" and ds.get("query") == "prometheus", str(ds))
    for name in ("instance", "gpu"):
        v = variables.get(name, {})
        q = variable_query(v)
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
        if not check(f"dashboard: variable {name} from label_values(..., {name})",
                     v.get("type") == "query" and m and m.group(2) == name, str(v)[:300]):
            continue
        for metric in metric_names(m.group(1)):
            check(f"dashboard: variable {name} reads an exported metric ({metric})", metric in exported)
        check(f"dashboard: variable {name} on the datasource variable",
              v.get("datasource", {}).get("uid") == "${datasource}", str(v.get("datasource")))
    check("dashboard: the gpu variable follows the instance variable", "$instance" in variable_query(variables.get("gpu", {})))

    ids = [p.get("id") for p in all_panels(dash.get("panels", []))]
    check("dashboard: panel ids unique integers", all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)),
          str(ids))
    known_vars = set(variables) | {"__rate_interval", "__range", "__interval"}
    for p in all_panels(dash.get("panels", [])):
        title = p.get("title", "?")
        gp = p.get("gridPos", {})
        check(f"panel {title!r}: gridPos inside 24 columns",
              all(isinstance(gp.get(k), int) for k in "hwxy") and gp["x"] + gp["w"] <= 24, str(gp))
        if p.get("type") == "row":
            continue
        check(f"panel {title!r}: on the datasource variable", p.get("datasource", {}).get("uid") == "${datasource}",
              str(p.get("datasource")))
        targets = p.get("targets", [])
        check(f"panel {title!r}: has targets", bool(targets))
        refs = [t.get("refId") for t in targets]
        check(f"panel {title!r}: unique refIds", len(refs) == len(set(refs)) and all(refs), str(refs))
        for t in targets:
            check(f"panel {title!r} {t.get('refId')}: has an expr", isinstance(t.get("expr"), str) and t["expr"].strip())
            if "datasource" in t:
                check(f"panel {title!r} {t.get('refId')}: target on the datasource variable",
                      t["datasource"].get("uid") == "${datasource}", str(t["datasource"]))
            unknown = grafana_vars(t.get("expr", "")) - known_vars
            check(f"panel {title!r} {t.get('refId')}: variables defined", not unknown, str(unknown))
    # No data source named anywhere but through the variable.
    hard = [d for d in re.findall(r'"datasource":\s*(\{[^}]*\}|"[^"]*")', json.dumps(dash)) if "${datasource}" not in d]
    check("dashboard: no hard-coded data source", not hard, str(hard[:3]))

    # Node and GPU rows: every selector filtered by the variables.
    for p, section, t in dashboard_targets(dash):
        where = f"panel {p.get('title')!r} {t.get('refId')}"
        for name, matchers in selectors(t.get("expr", "")):
            labels = {label: v for label, _, v in matchers}
            if section.startswith(("Node", "GPUs")):
                check(f"{where}: {name} filtered by $instance", "$instance" in labels.get("instance", ""), t["expr"])
            if section.startswith("GPUs") and "gpu" in labelled.get(name, set()):
                check(f"{where}: {name} filtered by $gpu", "$gpu" in labels.get("gpu", ""), t["expr"])


def check_names(exprs, exported, labelled):
    """Every metric and matcher label in exprs [(where, expr)] exists."""
    allowed = exported | PROMETHEUS_METRICS | PENDING_METRICS
    used_pending = set()
    for where, expr in exprs:
        try:
            sels = selectors(expr)
        except ValueError as e:
            check(f"{where}: PromQL scans", False, str(e))
            continue
        check(f"{where}: names a metric", bool(sels), expr)
        for name, matchers in sels:
            check(f"{where}: selector has a metric name", name is not None, expr)
            if name is None:
                continue
            check(f"{where}: {name} is exported by gpudoctor", name in allowed, expr)
            if name in PENDING_METRICS and name not in exported:
                used_pending.add(name)
            if name in labelled:
                for label, _, _ in matchers:
                    check(f"{where}: {name} has a label {label}", label in labelled[name] | TARGET_LABELS,
                          f"its labels: {sorted(labelled[name])}")
    return used_pending


# --------------------------------------------------------------- replay
#
# The samples of a real --textfile become promtool input series: what a
# Prometheus scraping that node every minute for 30 minutes would have stored
# (instance and job added, like a scrape does). The last-sample timestamp
# follows the test's clock (time() starts at 0), an Xid counter appears at
# minute 15 (its first Xid), and `up` is 1. promql_expr_test then asks
# ALERTS which alerts fire at minute 20, and which dashboard queries (loaded
# as recording rules) return data.

INSTANCE = "node1:9841"
EVAL = "20m"


def promql_value(v):
    f = float(v)
    return repr(f) if "e" not in repr(f) else f"{f:.12f}"


def series_of(parsed):
    out = [{"series": f'up{{instance="{INSTANCE}",job="gpudoctor"}}', "values": "1x30"}]
    for name, labels, value, _ in parsed["samples"]:
        body = ",".join([f'{k}="{v}"' for k, v in labels] + [f'instance="{INSTANCE}"', 'job="gpudoctor"'])
        if name == "gpudoctor_last_sample_timestamp_seconds":
            values = "0+60x30"
        elif value.lower() in ("nan", "+inf", "-inf"):
            continue
        elif name == "gpudoctor_xid_errors_total":
            values = f"_x15 {promql_value(value)}x15"
        else:
            values = f"{promql_value(value)}x30"
        out.append({"series": f"{name}{{{body}}}", "values": values})
    return out


def dashboard_rules(dash):
    """The dashboard's queries as recording rules dashboard:p<id>_<refId>, Grafana's variables filled in."""
    fill = {"instance": ".*", "gpu": ".*", "__rate_interval": "5m", "__range": "1h", "__interval": "1m"}
    rules = []
    for p, _, t in dashboard_targets(dash):
        expr = GRAFANA_VAR.sub(lambda m: fill[next(g for g in m.groups() if g)], t["expr"])
        rules.append({"record": f"dashboard:p{p['id']}_{t['refId']}", "expr": expr,
                      "_metrics": metric_names(t["expr"]), "_title": p.get("title"), "_type": p.get("type")})
    return rules


def replay(tmp, name, parsed, expected_alerts, dash_rules, with_data):
    """expected_alerts: {(alertname, gpu or ""): count}; with_data: recording rule names expected non-empty."""
    folder = os.path.join(tmp, "replay-" + name)
    os.mkdir(folder)
    rules_file = os.path.join(folder, "dashboard_rules.yml")
    with open(rules_file, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
            {"record": r["record"], "expr": r["expr"]} for r in dash_rules]}]}, f, sort_keys=False)
    exp_alerts = [{"labels": "{" + ",".join([f'alertname="{a}"'] + ([f'gpu="{g}"'] if g else [])) + "}",
                   "value": n} for (a, g), n in sorted(expected_alerts.items())]
    tests = [{"expr": 'count by (alertname, gpu) (ALERTS{alertstate="firing"})', "eval_time": EVAL,
              "exp_samples": exp_alerts}]
    if with_data:
        tests.append({"expr": 'group by (__name__) ({__name__=~"' + "|".join(sorted(with_data)) + '"})',
                      "eval_time": EVAL,
                      "exp_samples": [{"labels": f'{{__name__="{r}"}}', "value": 1} for r in sorted(with_data)]})
    doc = {"rule_files": [ALERTS, rules_file], "evaluation_interval": "1m",
           "tests": [{"name": f"replay of the real {name} output", "interval": "1m",
                      "input_series": series_of(parsed), "promql_expr_test": tests}]}
    test_file = os.path.join(folder, "replay_test.yml")
    with open(test_file, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False, width=1000)
    if name == "faulty":
        rc, out, err = run(["promtool", "check", "rules", rules_file])
        check("promtool check rules on the dashboard's queries (they parse)", rc == 0, (out + err)[-2000:])
    rc, out, err = run(["promtool", "test", "rules", test_file])
    check(f"replay of the {name} output: alerts and dashboard queries",
          rc == 0 and "SUCCESS" in out + err and "WARNING" not in out + err, (out + err)[-4000:])


def scen_bus(scen, i):
    return bus_id(scen["gpus"][i])


def expected_faulty_alerts(scen, parsed):
    bus = [bus_id(g) for g in scen["gpus"]]
    want = {("GpudoctorGpuLost", bus[4]): 1, ("GpudoctorFatalXid", bus[4]): 1, ("GpudoctorFatalXid", bus[6]): 1,
            ("GpudoctorGpuHardwareSlowdown", bus[0]): 1, ("GpudoctorGpuSoftwareThermalSlowdown", bus[7]): 1,
            ("GpudoctorPersistenceModeOff", bus[1]): 1, ("GpudoctorRowRemapFailed", bus[2]): 1,
            ("GpudoctorMemoryRepairPending", bus[3]): 1}
    return add_pending_alerts(want, parsed)


def add_pending_alerts(want, parsed):
    """Once gpudoctor exports the pending metrics, their alerts fire from what it exports."""
    want = dict(want)
    for name, labels, value, _ in parsed["samples"]:
        lab = dict(labels)
        if name == "gpudoctor_ledger_latched" and float(value) == 1:
            key = ("GpudoctorLedgerLatched", lab.get("gpu", ""))
            want[key] = want.get(key, 0) + 1
        if name == "gpudoctor_inventory_changes_total" and float(value) > 0:
            want[("GpudoctorInventoryChanged", "")] = 1
    return want


# ----------------------------------------------------------------- main

def main():
    if not shutil.which("promtool"):
        print("SKIPPED: promtool is not installed (Debian: apt-get install prometheus)")
        return 77
    start = time.monotonic()
    parser_self_test()
    check_rule_files()
    rules = load_rules()
    dash = json.load(open(DASHBOARD))

    with tempfile.TemporaryDirectory(prefix="gd-prom-") as tmp:
        healthy_text, _ = run_watch(tmp, "healthy", faulty=False)
        faulty_text, scen = run_watch(tmp, "faulty", faulty=True)
        dcgm_text, _ = run_watch(tmp, "faulty-dcgm", faulty=True, extra=["--metrics-compat", "dcgm"])
        swapped_text = swap_card(tmp) if healthy_text else ""
        outputs = {"healthy": healthy_text, "faulty": faulty_text, "faulty --metrics-compat dcgm": dcgm_text,
                   "after a card swap": swapped_text}
        parsed = {}
        for name, text in outputs.items():
            if not text:
                continue
            promtool_check_metrics(name, text, dcgm="dcgm" in name)
            parsed[name] = p = parse_exposition(text)
            check(f"{name}: every line parses", not p["bad"], str(p["bad"][:3]))
            check(f"{name}: no timestamps (node_exporter's textfile collector skips such files)",
                  not any(s[3] for s in p["samples"]))
        if len(parsed) != len(outputs):
            return report(start)

        exported = set().union(*(p["types"] for p in parsed.values()))
        labelled = {}
        for p in parsed.values():
            for name, labels, _, _ in p["samples"]:
                labelled.setdefault(name, set()).update(k for k, _ in labels)
        faulty = parsed["faulty"]
        check("faulty output: the lost GPU, the Xids and the findings are there",
              any(n == "gpudoctor_gpu_lost" and v == "1" for n, _, v, _ in faulty["samples"])
              and "gpudoctor_xid_errors_total" in labelled and "gpudoctor_finding_active" in labelled)
        for name in sorted(PENDING_METRICS & exported):
            notes.append(f"gpudoctor now exports {name}: remove it from PENDING_METRICS")

        alerts = check_rule_hygiene(rules, labelled)
        check_xid_lists(alerts)
        exprs = [(f"alert {r['alert']}", r["expr"]) for r in rules]
        exprs += [(f"panel {p.get('title')!r} {t.get('refId')}", t.get("expr", "")) for p, _, t in dashboard_targets(dash)]
        exprs += [(f"variable {v['name']}", label_values_selector(variable_query(v)))
                  for v in dash["templating"]["list"] if v["type"] == "query"]
        used_pending = check_names(exprs, exported, labelled)
        check_dashboard(dash, exported, labelled)

        dash_rules = dashboard_rules(dash)
        with_samples = {n for n, _, _, _ in faulty["samples"]} | PROMETHEUS_METRICS
        with_data = {r["record"] for r in dash_rules if r["_metrics"] <= with_samples}
        no_data = sorted(f"{r['_title']} ({r['record']}: {', '.join(sorted(r['_metrics'] - with_samples))})"
                         for r in dash_rules if r["record"] not in with_data)
        if no_data:
            notes.append("dashboard queries not expected to show data on the simulated H100 node (metric "
                         "without samples there): " + "; ".join(no_data))
        replay(tmp, "faulty", faulty, expected_faulty_alerts(scen, faulty), dash_rules, with_data)
        # The swap: gpudoctor records inventory_changed, and its counter (at 1
        # from the new daemon's first scrape) makes GpudoctorInventoryChanged fire.
        swapped = parsed["after a card swap"]
        counter = [v for n, _, v, _ in swapped["samples"] if n == "gpudoctor_inventory_changes_total"]
        rc, out, err = run([GD, "events", "--db", os.path.join(tmp, "healthy", "history.db"),
                            "--type", "inventory_changed", "--since", "1d"])
        check("card swap: an inventory_changed event", rc == 0 and scen_bus(scen, 0) in out, out + err)
        pending_check("gpudoctor_inventory_changes_total", "card swap: gpudoctor_inventory_changes_total counts it",
                      counter == ["1"], f"exported {counter or 'nothing'}")
        replay(tmp, "swapped", swapped, add_pending_alerts({}, swapped), dash_rules, set())
        # On the healthy node: no alert. The time series panels (plain readings,
        # no "== 1" filters that are rightly empty there) show data there too.
        healthy_samples = {n for n, _, _, _ in parsed["healthy"]["samples"]} | PROMETHEUS_METRICS
        replay(tmp, "healthy", parsed["healthy"], add_pending_alerts({}, parsed["healthy"]), dash_rules,
               {r["record"] for r in dash_rules if r["_type"] == "timeseries" and r["_metrics"] <= healthy_samples})
        if used_pending:
            notes.append("pending metric names used (allowed until gpudoctor exports them): "
                         + ", ".join(sorted(used_pending)))
    return report(start)


def report(start):
    for n in notes:
        print("NOTE: " + n)
    took = time.monotonic() - start
    if failures:
        print(f"FAILED: {len(failures)} of {len(failures) + passed} checks ({took:.1f} s)")
        for f in failures:
            print("  " + f)
        return 1
    print(f"PASSED: {passed} checks ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
