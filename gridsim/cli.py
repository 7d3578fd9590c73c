"""The ``gridsim`` command line.

Every user mistake (unknown model, unknown element, malformed file) ends in a
one-line ``error: ...`` on stderr and exit code 2 — never a traceback.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from gridsim.errors import GridsimError

app = typer.Typer(
    name="gridsim",
    help="gridsim — outage impact, restoration and customer service for distribution networks.\n\n"
         "MODEL is a bundled name (see `gridsim models`), simbench:CODE, synth:N[:SEED], "
         "a pandapower JSON file or a folder with net.json [customers.csv] [model.yaml].",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # piped or captured: wide enough for the tables
    out = Console(highlight=False, soft_wrap=True, width=160)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line, never wrapped


class UsageError(GridsimError):
    """A command-line argument is wrong."""


def _load(model: str, customers: Optional[Path] = None):
    from gridsim.model import load_model
    return load_model(model, customers=str(customers) if customers else None)


def _compile(model: str, customers: Optional[Path] = None):
    from gridsim.core import compile_topology
    m = _load(model, customers)
    return m, compile_topology(m)


def _table(df, title: str | None = None, max_rows: int | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in df.columns:
        t.add_column(str(c), justify="right" if df[c].dtype.kind in "iuf" else "left")
    shown = df if max_rows is None else df.head(max_rows)
    for row in shown.itertuples(index=False):
        t.add_row(*[f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row])
    return t


# --------------------------------------------------------------------------- models
@app.command("models")
def models_cmd(json_out: bool = typer.Option(False, "--json", help="print JSON")):
    """List the bundled models with their sizes.

    Example: gridsim models
    """
    from gridsim.model import list_models
    df = list_models()
    if json_out:
        out.print_json(df.to_json(orient="records"))
    else:
        out.print(_table(df, "Bundled models"))


@app.command("validate")
def validate_cmd(model: str = typer.Argument(..., help="model to check"),
                 customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV")):
    """Check a model; print every problem found; exit 1 if there is any.

    Example: gridsim validate mv_oberrhein
    """
    from gridsim.model import validate_model
    m = _load(model, customers)
    issues = validate_model(m)
    errors = [i for i in issues if getattr(i, "severity", "error") == "error"]
    for i in issues:
        sev = getattr(i, "severity", "error")
        out.print(f"{sev}: {i}")
    if errors:
        out.print(f"{m.name}: {len(errors)} error(s)")
        raise typer.Exit(1)
    out.print(f"{m.name}: valid ({len(m.net.bus)} buses, {len(m.net.line)} lines, "
              f"{int(m.customers['count'].sum())} customers, {len(m.devices)} devices"
              + (f", {len(issues)} warning(s)" if issues else "") + ")")


@app.command("customers")
def customers_cmd(model: str = typer.Argument(..., help="model"),
                  out_path: Path = typer.Option(..., "--out", help="output file (.csv or .parquet)"),
                  customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV")):
    """Write the model's customers table (derived or given) to a file.

    Example: gridsim customers mv_oberrhein --out customers.csv
    """
    from gridsim.model import write_customers
    m = _load(model, customers)
    write_customers(m.customers, out_path)
    by_class = m.customers.groupby("class")["count"].sum().sort_values(ascending=False)
    out.print(f"wrote {len(m.customers)} rows ({int(m.customers['count'].sum())} customers) to {out_path}: "
              + ", ".join(f"{k} {v}" for k, v in by_class.items()))


# --------------------------------------------------------------------------- impact
@app.command("sweep")
def sweep_cmd(model: str = typer.Argument(..., help="model"),
              customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
              out_path: Optional[Path] = typer.Option(None, "--out", help="write the table (.csv or .parquet)"),
              top: int = typer.Option(10, "--top", help="worst faults to show"),
              flisr: bool = typer.Option(False, "--flisr", help="add FLISR columns: customers restored by "
                                         "switching, customers and critical customers until repair")):
    """Every single fault (N-1): customers lost, critical customers lost, tripping device.

    Example: gridsim sweep sb_mvlv_urban --out n1.parquet
    """
    from gridsim.core import critical_exposure, sweep_single_faults
    if out_path is not None and out_path.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"--out {out_path}: use a .csv or .parquet file name")
    t0 = time.perf_counter()
    m, topo = _compile(model, customers)
    t1 = time.perf_counter()
    sweep_single_faults(topo)  # JIT warm-up on first use in this process
    t2 = time.perf_counter()
    df = sweep_single_faults(topo)
    t3 = time.perf_counter()
    if flisr:
        df = sweep_single_faults(topo, flisr=True)
        t4 = time.perf_counter()
    if out_path is not None:
        if out_path.suffix.lower() == ".csv":
            df.to_csv(out_path, index=False)
        else:
            df.to_parquet(out_path, index=False)
    _print_sweep(m, topo, df, top, flisr)
    exp = critical_exposure(topo)
    if len(exp):
        exp = exp.sort_values(["single_faults", "customer_id"], ascending=[False, True])
        out.print(_table(exp.drop(columns=["elements"]), "Critical customers: single faults that cut them off",
                         max_rows=top))
    out.print(f"{len(df):,} single faults of {m.name} ({topo.n_bus:,} buses): sweep {1e3 * (t3 - t2):.2f} ms "
              f"(first call incl. JIT {1e3 * (t2 - t1):.0f} ms), load+compile {t1 - t0:.1f} s"
              + (f"; FLISR for every fault {t4 - t3:.2f} s" if flisr else "")
              + (f"; wrote {out_path}" if out_path else ""))


def _print_sweep(m, topo, df, top, flisr: bool = False):
    in_svc = df[df["in_service"]]
    worst = in_svc.sort_values(["customers_unsupplied", "critical_unsupplied"], ascending=False).head(top)
    cols = ["element_type", "element_id", "buses_unsupplied", "customers_unsupplied", "critical_unsupplied",
            "tripping_device", "customers_interrupted"]
    if flisr:
        cols = cols[:2] + ["customers_unsupplied", "tripping_device", "customers_interrupted",
                           "customers_restored_by_switching", "customers_until_repair", "critical_until_repair"]
    out.print(_table(worst[cols], f"Worst {top} single faults of {m.name} (by customers lost)"))
    crit = in_svc[in_svc["critical_unsupplied"] > 0]
    out.print(f"faults that cut off critical customers: {len(crit):,} of {len(in_svc):,}; "
              f"faults that cut off nobody: {int((in_svc['customers_unsupplied'] == 0).sum()):,}")


@app.command("impact")
def impact_cmd(model: str = typer.Argument(..., help="model"),
               fault: List[str] = typer.Option(..., "--fault", help="faulted element TYPE:ID, repeatable"),
               customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
               list_customers: bool = typer.Option(False, "--list-customers", help="include customer ids"),
               json_out: bool = typer.Option(False, "--json", help="print JSON")):
    """Who loses supply when these elements fail together, and which device trips.

    Example: gridsim impact mv_oberrhein --fault line:17 --fault trafo:1
    """
    from gridsim.core import find_affected
    m, topo = _compile(model, customers)
    imp = find_affected(topo, fault, customer_ids=list_customers)
    if json_out:
        d = imp.to_dict()
        d["model"] = m.name
        out.print_json(json.dumps(d))
        return
    out.print(f"[bold]{m.name}[/bold]: faults {', '.join(imp.faults)}")
    out.print(f"buses unsupplied: {len(imp.buses)}"
              + (f" ({', '.join(str(b) for b in imp.buses[:20])}{' ...' if len(imp.buses) > 20 else ''})"
                 if len(imp.buses) else ""))
    out.print(f"customers unsupplied: {imp.customers:,} (critical {imp.critical:,}), load {imp.p_kw:,.0f} kW")
    if imp.by_class:
        out.print("by class: " + ", ".join(f"{k} {v:,}" for k, v in imp.by_class.items()))
    for t in imp.trips:
        dev = t.device or "no modelled device (cleared upstream of the model)"
        out.print(f"{t.fault}: trips {dev}, interrupting {t.customers_interrupted:,} customers until isolation")
    if imp.customer_ids is not None:
        out.print("customer ids: " + " ".join(imp.customer_ids))


@app.command("flisr")
def flisr_cmd(model: str = typer.Argument(..., help="model"),
              fault: str = typer.Option(..., "--fault", help="faulted element TYPE:ID, e.g. line:17"),
              customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
              max_loading: float = typer.Option(100.0, "--max-loading", help="loading limit of a transfer, %"),
              vm_min: float = typer.Option(0.95, "--vm-min", help="lowest bus voltage after a transfer, pu"),
              vm_max: float = typer.Option(1.05, "--vm-max", help="highest bus voltage after a transfer, pu"),
              capacity: str = typer.Option("local", "--capacity",
                                           help="capacity check: local | full | pandapower | none"),
              json_out: bool = typer.Option(False, "--json", help="print JSON")):
    """FLISR switching plan for one fault: trip, isolate, reclose, capacity-checked tie transfers.

    Example: gridsim flisr mv_oberrhein --fault line:17
    """
    from gridsim.restore import plan_flisr
    m, topo = _compile(model, customers)
    plan = plan_flisr(topo, fault, options={"max_loading_percent": max_loading, "vm_min_pu": vm_min,
                                            "vm_max_pu": vm_max, "capacity": capacity})
    if json_out:
        d = plan.to_dict()
        d["model"] = m.name
        out.print_json(json.dumps(d))
        return
    out.print(f"[bold]{m.name}[/bold]: fault on {plan.fault}")
    trip = plan.tripping_device or "no modelled device (cleared at the source)"
    out.print(f"trips {trip}: {plan.customers_interrupted:,} customers interrupted "
              f"({plan.critical_interrupted:,} critical)")
    t = Table(title="Switching plan", title_justify="left", header_style="bold")
    for c, j in (("t (min)", "right"), ("action", "left"), ("device", "left"), ("remote", "left"),
                 ("purpose", "left"), ("customers", "right"), ("critical", "right"), ("max loading %", "right"),
                 ("min vm pu", "right"), ("via", "left")):
        t.add_column(c, justify=j)
    for s in plan.steps:
        t.add_row(f"{s.t_min:.1f}", s.action, s.device, "yes" if s.remote else "no", s.purpose,
                  f"{s.customers_restored:,}" if s.customers_restored else "",
                  f"{s.critical_restored:,}" if s.critical_restored else "",
                  f"{s.max_loading_percent:.1f}" if s.max_loading_percent is not None else "",
                  f"{s.min_vm_pu:.4f}" if s.min_vm_pu is not None else "", s.via)
    if plan.steps:
        out.print(t)
    else:
        out.print("no switching helps: the tripped device already isolates the fault")
    for a in plan.infeasible:
        out.print(f"not done: {a.tie + ': ' if a.tie else ''}{a.reason}")
    out.print(f"restored by switching: {plan.customers_restored_by_switching:,}; until repair: "
              f"{plan.customers_until_repair:,} (critical {plan.critical_until_repair:,})")


@app.command("demo")
def demo_cmd(model: str = typer.Option("mv_oberrhein", "--model", help="model for the demo"),
             top: int = typer.Option(10, "--top", help="worst faults to show")):
    """Load mv_oberrhein, run every single fault with FLISR, show the worst and the critical customers at risk.

    Example: gridsim demo
    """
    from gridsim.core import critical_exposure, sweep_single_faults
    t0 = time.perf_counter()
    m, topo = _compile(model)
    t1 = time.perf_counter()
    out.print(f"[bold]gridsim demo[/bold] — {m.name}: {topo.n_bus:,} buses, {len(m.net.line):,} lines, "
              f"{len(m.devices):,} devices, {int(m.customers['count'].sum()):,} customers "
              f"(loaded and compiled in {t1 - t0:.1f} s)")
    sweep_single_faults(topo)
    t2 = time.perf_counter()
    df = sweep_single_faults(topo)
    t3 = time.perf_counter()
    flisr_df = sweep_single_faults(topo, flisr=True)
    t4 = time.perf_counter()
    _print_sweep(m, topo, flisr_df, top, True)
    exp = critical_exposure(topo).sort_values(["single_faults", "customer_id"], ascending=[False, True])
    out.print(_table(exp.drop(columns=["elements"]), "Critical customers at risk (single faults that cut them off)"))
    out.print(f"all {len(df):,} single faults in {1e3 * (t3 - t2):.2f} ms "
              f"(first call incl. JIT compile {1e3 * (t2 - t1):.0f} ms); FLISR with capacity-checked "
              f"transfers for every fault in {t4 - t3:.2f} s")


# --------------------------------------------------------------------------- plan
def _plan_faults(items: List[str]) -> list:
    """``line:3`` or ``line:3=300`` (repair minutes) -> fault specs for plan_restoration."""
    out = []
    for item in items:
        ref, sep, rep = item.partition("=")
        if not sep:
            out.append(ref)
            continue
        try:
            out.append({"element": ref, "repair_min": float(rep)})
        except ValueError:
            raise UsageError(f"--fault {item}: write ELEMENT or ELEMENT=REPAIR_MIN, e.g. line:3=300") from None
    return out


def _hm(minutes: float, start=None) -> str:
    import math as _math
    if not _math.isfinite(minutes):
        return "-"
    if start is not None:
        import pandas as _pd
        return (start + _pd.Timedelta(minutes=float(minutes))).strftime("%Y-%m-%d %H:%M")
    m = int(round(minutes))
    return f"{m // 60}:{m % 60:02d}" if m >= 0 else f"-{(-m) // 60}:{(-m) % 60:02d}"


@app.command("plan")
def plan_cmd(model: str = typer.Argument(..., help="model"),
             fault: List[str] = typer.Option(..., "--fault",
                                             help="faulted element TYPE:ID[=REPAIR_MIN], repeatable"),
             crews: int = typer.Option(2, "--crews", help="number of crews (at the source buses)"),
             strategy: str = typer.Option("wspt", "--strategy",
                                          help="fifo, most_customers, critical_first, wspt, local_search, exact"),
             flisr: bool = typer.Option(False, "--flisr", help="restore what FLISR switching can before repairs"),
             start: Optional[str] = typer.Option(None, "--start", help="wall-clock time of t=0, e.g. 2026-01-05T08:00"),
             customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
             list_customers: bool = typer.Option(False, "--list-customers", help="JSON: include every customer's ETR"),
             json_out: bool = typer.Option(False, "--json", help="print JSON")):
    """Crew schedule for repairing these faults: routes, ETR per outage, objective values.

    Example: gridsim plan mv_oberrhein --fault line:17 --fault trafo:114 --crews 2 --strategy local_search
    """
    import pandas as pd
    from gridsim.restore.plan import plan_restoration
    from gridsim.scenarios.schema import MAX_CREWS
    if not 1 <= crews <= MAX_CREWS:
        raise UsageError(f"--crews {crews}: give 1 to {MAX_CREWS:,} crews")
    specs = _plan_faults(fault)
    if start is not None:
        try:
            t0 = pd.Timestamp(start)
        except ValueError:
            raise UsageError(f"--start {start}: write a date and time, e.g. 2026-01-05T08:00") from None
    else:
        t0 = None
    m, topo = _compile(model, customers)
    t_a = time.perf_counter()
    plan = plan_restoration(topo, specs, crews, strategy=strategy, model=m,
                            options={"flisr": flisr, "start_time": t0})
    t_b = time.perf_counter()
    if json_out:
        d = plan.to_dict(customers=list_customers)
        d["model"] = m.name
        out.print_json(json.dumps(d))
        return
    out.print(f"[bold]{m.name}[/bold]: {plan.n_jobs} fault(s), {len(plan.crew_ids)} crew(s), strategy "
              f"{plan.strategy}" + (", after FLISR switching" if flisr else "")
              + f" (planned in {1e3 * (t_b - t_a):.0f} ms" + ("; times h:mm from t=0)" if t0 is None else ")"))
    routes = Table(title="Crew routes", title_justify="left", header_style="bold")
    for c in ("crew", "depot", "#", "fault", "drive min", "repair start", "repair end"):
        routes.add_column(c, justify="right" if c in ("#", "drive min") else "left")
    for k, jobs in enumerate(plan.routes):
        for i, j in enumerate(jobs):
            routes.add_row(plan.crew_ids[k] if i == 0 else "", plan.crew_depot[k] if i == 0 else "", str(i + 1),
                           plan.faults[j], f"{plan.travel_min[j]:.0f}", _hm(plan.start_min[j], t0),
                           _hm(plan.finish_min[j], t0))
        if not len(jobs):
            routes.add_row(plan.crew_ids[k], plan.crew_depot[k], "", "(idle)", "", "", "")
    out.print(routes)
    outages = Table(title="Outages", title_justify="left", header_style="bold")
    for c in ("fault", "upstream fault", "crew", "repair min", "ETR", "customers", "by switching", "critical"):
        outages.add_column(c, justify="right" if c in ("repair min", "customers", "by switching", "critical")
                           else "left")
    for j, lab in enumerate(plan.faults):
        outages.add_row(lab, "" if plan.parent[j] < 0 else plan.faults[plan.parent[j]],
                        "" if plan.crew[j] < 0 else plan.crew_ids[plan.crew[j]], f"{plan.repair_min[j]:.0f}",
                        _hm(plan.etr_min[j], t0), f"{int(plan.customers[j]):,}",
                        f"{int(plan.customers_switched[j]):,}", f"{int(plan.critical[j]):,}")
    out.print(outages)
    crit = ", ".join(f"{k} {v:,.1f} h" for k, v in plan.critical_h_by_class.items()) or "none"
    out.print(f"weighted customer minutes {plan.weighted_cmi:,.0f}; customer minutes interrupted (CMI) "
              f"{plan.cmi:,.0f} ({plan.cmi / 60:,.0f} customer-hours); critical hours: {crit}")
    out.print(f"last repair ends at {_hm(plan.makespan_min, t0)}"
              + (f"; overtime {plan.overtime_min:,.0f} min" if plan.overtime_min > 0 else ""))


# --------------------------------------------------------------------------- reliability
def _key_values(items: Optional[List[str]], option: str, example: str) -> dict:
    """``KEY=VALUE`` options -> {key: float}."""
    values = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            values[key.strip()] = float(val)
        except ValueError:
            raise UsageError(f"{option} {item}: write KEY=VALUE, e.g. {option} {example}") from None
    return values


def _fmt_num(v, spec: str) -> str:
    import math as _math
    if v is None or (isinstance(v, float) and not _math.isfinite(v)):
        return "n/a"
    return format(v, spec)


#: system index rows of `gridsim reliability`: (key, label, format, unit)
_REL_ROWS = (("saifi", "SAIFI", ",.4f", "sustained interruptions / customer / yr"),
             ("saidi", "SAIDI", ",.2f", "min / customer / yr"),
             ("caidi", "CAIDI", ",.1f", "min / sustained interruption"),
             ("asai", "ASAI", ".6f", "average service availability"),
             ("maifi", "MAIFI", ",.4f", "momentary interruptions (<= threshold) / customer / yr"),
             ("ens_kwh", "ENS", ",.0f", "kWh not supplied / yr"),
             ("cmi", "CMI", ",.0f", "customer minutes interrupted / yr"))


@app.command("reliability")
def reliability_cmd(model: str = typer.Argument(..., help="model"),
                    json_out: bool = typer.Option(False, "--json", help="print JSON"),
                    no_flisr: bool = typer.Option(False, "--no-flisr",
                                                  help="no switching: every interrupted customer waits for the repair"),
                    rate: Optional[List[str]] = typer.Option(None, "--rate", help="failure rate KIND=PER_YEAR (lines: "
                                                             "per km) or TYPE:ID=PER_YEAR, repeatable"),
                    repair: Optional[List[str]] = typer.Option(None, "--repair",
                                                               help="repair time KIND=MIN or TYPE:ID=MIN, repeatable"),
                    customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
                    top: int = typer.Option(10, "--top", help="feeders to show (largest customer minutes first)")):
    """Expected annual reliability from failure rates, repair times and FLISR switching: system and
    per-feeder SAIFI, SAIDI, CAIDI, ASAI, MAIFI, ENS, and the critical exposure table.

    Rate kinds: line_ol_per_km, line_cs_per_km, trafo, trafo3w, switch, bus; repair kinds: line_ol,
    line_cs, trafo, trafo3w, switch, bus (defaults and sources: docs/reliability.md).

    Example: gridsim reliability mv_oberrhein --rate line_cs_per_km=0.03 --repair trafo=300
    """
    from gridsim.reliability.analytic import expected_reliability
    rates = _key_values(rate, "--rate", "line_cs_per_km=0.03")
    repairs = _key_values(repair, "--repair", "trafo=300")
    m, topo = _compile(model, customers)
    res = expected_reliability(topo, rates=rates, repair_min=repairs, flisr=not no_flisr)
    if json_out:
        out.print_json(json.dumps(res.to_dict(), allow_nan=False))
        return
    a = res.assumptions
    out.print(f"[bold]{res.model}[/bold]: expected reliability per year, FLISR {'on' if res.flisr else 'off'} — "
              f"{a['faults_interrupting_customers']:,} single faults interrupt customers, "
              f"{a['expected_faults_per_yr']:.3f} faults/yr expected, {a['customers_served']:,} customers served")
    cols = ["with FLISR", "without FLISR"] if res.system_without_flisr else ["without FLISR"]
    systems = [res.system, res.system_without_flisr] if res.system_without_flisr else [res.system]
    t = Table(title="System indices", title_justify="left", header_style="bold")
    t.add_column("index")
    for c in cols:
        t.add_column(c, justify="right")
    t.add_column("unit")
    for key, label, spec, unit in _REL_ROWS:
        t.add_row(label, *[_fmt_num(s[key], spec) for s in systems], unit)
    out.print(t)
    fd = res.feeders
    t = Table(title=f"Feeders ({min(top, len(fd))} of {len(fd):,}, largest customer minutes first)",
              title_justify="left", header_style="bold")
    fcols = [("feeder", "feeder", None), ("vn_kv", "kV", ".1f"), ("buses", "buses", ","),
             ("customers", "customers", ","), ("saifi", "SAIFI", ".4f"), ("saidi", "SAIDI min", ",.2f"),
             ("caidi", "CAIDI min", ",.1f"), ("asai", "ASAI", ".6f"), ("maifi", "MAIFI", ".4f"),
             ("ens_kwh", "ENS kWh", ",.0f")]
    if "saidi_without_flisr" in fd.columns:
        fcols.append(("saidi_without_flisr", "SAIDI min w/o FLISR", ",.2f"))
    for _, label, spec in fcols:
        t.add_column(label, justify="left" if spec is None else "right")
    for r in fd.head(top).to_dict(orient="records"):
        t.add_row(*[str(r[k]) if spec is None else _fmt_num(r[k], spec) for k, _, spec in fcols])
    out.print(t)
    ce = res.critical_exposure
    t = Table(title="Critical exposure: expected outage of each critical customer and the single faults that "
                    "leave it out until repair", title_justify="left", header_style="bold")
    ccols = [("customer_id", "customer"), ("class", "class"), ("bus", "bus"), ("feeder", "feeder"),
             ("interruptions_per_yr", "interruptions/yr"), ("outage_h_per_yr", "outage h/yr"),
             ("faults_until_repair", "faults")]
    if "outage_h_per_yr_without_flisr" in ce.columns:
        ccols += [("outage_h_per_yr_without_flisr", "h/yr w/o FLISR"),
                  ("faults_until_repair_without_flisr", "faults w/o FLISR")]
    ccols.append(("elements", "worst faults (rate x repair)"))
    for k, label in ccols:
        t.add_column(label, justify="right" if ce[k].dtype.kind in "iuf" else "left")
    for r in ce.to_dict(orient="records"):
        cells = []
        for k, _ in ccols:
            v = r[k]
            if k == "elements":
                parts = str(v).split()
                v = " ".join(parts[:3]) + (f" +{len(parts) - 3}" if len(parts) > 3 else "")
            elif isinstance(v, float):
                v = _fmt_num(v, ".3f")
            cells.append(str(v))
        t.add_row(*cells)
    out.print(t)
    rates_txt = ", ".join(f"{k} {v:g}" for k, v in a["rates_per_yr"].items())
    rep_txt = ", ".join(f"{k} {v:g}" for k, v in a["repair_min"].items())
    out.print(f"failure rates /yr (lines /km/yr): {rates_txt}"
              + (f" (+{len(a['rate_overrides'])} element overrides)" if a["rate_overrides"] else ""))
    out.print(f"repair min: {rep_txt}" + (f" (+{len(a['repair_overrides'])} element overrides)"
                                          if a["repair_overrides"] else "")
              + f"; momentary <= {a['momentary_threshold_min']:g} min; feeders: "
              + ("net.bus.feeder" if a["feeders"] == "net.bus.feeder" else "first line below each transformer"))
    out.print(f"computed in {res.elapsed_s:.2f} s (FLISR plans {res.timings_s.get('flisr', 0.0):.2f} s)")


@app.command("indices")
def indices_cmd(log: Path = typer.Argument(..., help="interruption log .csv / .parquet: customer_id,start,end"
                                                     "[,count,p_kw,class,event_id]"),
                customers_served: str = typer.Option(..., "--customers-served", help="N_T, customers served"),
                json_out: bool = typer.Option(False, "--json", help="print JSON"),
                momentary_threshold_min: float = typer.Option(5.0, "--momentary-threshold-min",
                                                              help="momentary if at most this long"),
                cemi_n: int = typer.Option(1, "--cemi-n", help="n of CEMIn (customers with more than n)"),
                period_h: float = typer.Option(8760.0, "--period-h", help="reporting period for ASAI, hours")):
    """IEEE 1366 indices (SAIFI, SAIDI, CAIDI, CAIFI, ASAI, MAIFI, CEMIn, CMI, ENS) from an interruption log.

    Example: gridsim indices examples/interruptions.csv --customers-served 1200
    """
    from gridsim.reliability import indices_command
    try:
        n_t = float(customers_served)
    except ValueError:
        raise UsageError(f"--customers-served {customers_served}: expected a positive number of customers") from None
    text = indices_command(log, n_t, as_json=json_out, momentary_threshold_min=momentary_threshold_min,
                           cemi_n=cemi_n, period_h=period_h)
    if json_out:
        out.print_json(text)
    else:
        out.print(text, markup=False)


# --------------------------------------------------------------------------- scenarios
@app.command("schema")
def schema_cmd():
    """Print the JSON Schema of scenario files (scenarios/*.yaml; see docs/scenarios.md).

    Example: gridsim schema > scenario.schema.json
    """
    from gridsim.scenarios import scenario_json_schema
    typer.echo(json.dumps(scenario_json_schema(), indent=2))


# --------------------------------------------------------------------------- run / compare (scenario outputs)
def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: is a file; give a folder (created if missing)")


@app.command("run")
def run_cmd(scenario: Path = typer.Argument(..., help="scenario file, e.g. scenarios/single_fault.yaml"),
            out_dir: Path = typer.Option(..., "--out", help="output folder (created)"),
            seed: Optional[int] = typer.Option(None, "--seed", help="seed (default: the scenario's)"),
            strategy: Optional[str] = typer.Option(None, "--strategy",
                                                   help="crew strategy (default: the scenario's first)")):
    """Simulate one run of a scenario; write timeline.parquet, interruptions.parquet, summary.json
    and report.html (self-contained, opens offline) into --out.

    Example: gridsim run scenarios/single_fault.yaml --out out/single_fault
    """
    import math as _math
    from gridsim.restore.schedule import STRATEGIES
    from gridsim.scenarios import load_scenario, run_scenario
    from gridsim.scenarios.report import write_run_outputs
    from gridsim.scenarios.simulate import scenario_context
    if seed is not None and seed < 0:
        raise UsageError(f"--seed {seed}: expected an integer >= 0")
    if strategy is not None and strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy}: unknown strategy; known: {', '.join(sorted(STRATEGIES))}")
    _check_out_dir(out_dir)
    t0 = time.perf_counter()
    sc = load_scenario(scenario)
    ctx = scenario_context(sc)
    t1 = time.perf_counter()
    res = run_scenario(sc, seed=seed, strategy=strategy)
    t2 = time.perf_counter()
    write_run_outputs(res, out_dir, ctx.topo)
    s = res.summary()
    out.print(f"[bold]{sc.name or scenario.name}[/bold] ({ctx.topo.name}): run {res.run}, strategy {res.strategy}, "
              f"{s['faults']} fault(s); simulated in {t2 - t1:.2f} s (model loaded in {t1 - t0:.1f} s)")
    t = Table(title="Indices of this run", title_justify="left", header_style="bold")
    for c in ("SAIDI min", "SAIFI", "MAIFI", "CMI", "weighted CMI", "ENS kWh", "customers served"):
        t.add_column(c, justify="right")
    t.add_row(f"{s['saidi']:,.2f}", f"{s['saifi']:.4f}", f"{s['maifi']:.4f}", f"{s['cmi']:,.0f}",
              f"{s['weighted_cmi']:,.0f}", f"{s['ens_kwh']:,.0f}", f"{s['customers_served']:,}")
    out.print(t)
    crit = ", ".join(f"{k} {v:,.2f} h" for k, v in s["critical_hours_by_class"].items() if v > 0) or "none"
    out.print(f"critical customer hours: {crit}")
    last = res.last_restored_min
    out.print("last customer restored: " + (f"{res.last_restored:%Y-%m-%d %H:%M} ({_hm(last)} after start)"
                                            if _math.isfinite(last) else "nobody had a sustained interruption"))
    out.print(f"wrote timeline.parquet ({len(res.timeline)} events), interruptions.parquet "
              f"({len(res.interruptions):,} rows), summary.json, report.html to {out_dir}")


@app.command("compare")
def compare_cmd(scenario: Path = typer.Argument(..., help="scenario file, e.g. scenarios/storm_montecarlo.yaml"),
                out_dir: Path = typer.Option(..., "--out", help="output folder (created)"),
                runs: Optional[int] = typer.Option(None, "--runs", help="Monte-Carlo runs (default: the scenario's)"),
                strategies: Optional[str] = typer.Option(None, "--strategies",
                                                         help="comma-separated strategies, the first is the baseline "
                                                              "(default: the scenario's)"),
                workers: int = typer.Option(1, "--workers", help="local worker processes (1: in this process)"),
                seed: Optional[int] = typer.Option(None, "--seed", help="seed (default: the scenario's)"),
                scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                        help="run on an existing Dask cluster, e.g. tcp://host:8786"),
                dask_local: Optional[int] = typer.Option(None, "--dask-local",
                                                         help="run on a local Dask cluster of K worker processes")):
    """Compare crew strategies on the same sampled storms (paired); write results.parquet,
    summary.json and report.html into --out. Ctrl-C stops and keeps the finished runs.

    Example: gridsim compare scenarios/storm_montecarlo.yaml --out out/storm --strategies wspt,fifo --workers 4
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    from gridsim.restore.schedule import STRATEGIES
    from gridsim.scenarios import load_scenario
    from gridsim.scenarios.report import best_by_metric, compare_in_chunks, write_compare_outputs
    from gridsim.scenarios.simulate import scenario_context
    from gridsim.scenarios.schema import MAX_RUNS
    if runs is not None and not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"--runs {runs}: give 1 to {MAX_RUNS:,} runs")
    if not 1 <= workers <= 256:
        raise UsageError(f"--workers {workers}: give 1 to 256 worker processes")
    if scheduler is not None and dask_local is not None:
        raise UsageError("give either --scheduler or --dask-local, not both")
    if (scheduler is not None or dask_local is not None) and workers != 1:
        raise UsageError("--workers is for local processes: with Dask, the cluster's workers do the work")
    if dask_local is not None and dask_local < 1:
        raise UsageError(f"--dask-local {dask_local}: give at least 1 worker")
    if seed is not None and seed < 0:
        raise UsageError(f"--seed {seed}: expected an integer >= 0")
    names = None
    if strategies is not None:
        names = [x.strip() for x in strategies.split(",") if x.strip()]
        if not names:
            raise UsageError(f"--strategies {strategies!r}: give strategy names separated by commas, e.g. wspt,fifo")
        bad = [x for x in names if x not in STRATEGIES]
        if bad:
            raise UsageError(f"--strategies: unknown strategy {bad[0]!r}; known: {', '.join(sorted(STRATEGIES))}")
        if len(set(names)) != len(names):
            raise UsageError(f"--strategies {strategies}: a strategy is listed twice")
    _check_out_dir(out_dir)
    sc = load_scenario(scenario)
    scenario_context(sc)          # load and check the model here: mistakes stop before any worker starts
    names = tuple(names or sc.strategies)
    n_runs = int(runs if runs is not None else sc.runs)
    executor = None
    if scheduler is not None or dask_local is not None:
        from gridsim.scenarios.executors import make_executor
        executor = make_executor(scheduler=scheduler, dask_local=dask_local)
        workers = executor.n_workers
    t0 = time.perf_counter()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("runs · {task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
                      TimeRemainingColumn(), console=err, transient=False) as bar:
            task = bar.add_task(f"{len(names)} strateg{'y' if len(names) == 1 else 'ies'}", total=n_runs,
                                rate="- runs/s")

            def _done(n):
                dt = time.perf_counter() - t0
                bar.update(task, completed=n, rate=f"{n / dt:,.2f} runs/s" if dt > 0 else "- runs/s")

            cc = compare_in_chunks(sc, names, n_runs, workers=workers, seed=seed, on_chunk=_done,
                                   executor=executor)
    finally:
        if executor is not None:
            executor.close()
    elapsed = time.perf_counter() - t0
    res = cc.result
    if res is None:
        err.print(f"interrupted before any run finished (after {elapsed:.1f} s): nothing written")
        raise typer.Exit(130)
    write_compare_outputs(res, out_dir, scenario_name=sc.name, runs_requested=n_runs, interrupted=cc.interrupted)
    metrics = ["saidi", "saifi", "cmi", "weighted_cmi"] + [c for c in res.table.columns if c.startswith("crit_h_")] \
        + ["last_restored_min"]
    summ = res.summary
    t = Table(title=f"{sc.name or scenario.name}: {len(res.runs)} runs, mean per strategy "
                    f"(paired difference to {res.baseline}, 95 % interval)", title_justify="left",
              header_style="bold")
    t.add_column("metric")
    for s in names:
        t.add_column(s, justify="right")
    for m in metrics:
        cells = []
        for s in names:
            r = summ[(summ["strategy"] == s) & (summ["metric"] == m)].iloc[0]
            cell = _fmt_num(float(r["mean"]), ",.2f")
            if s != res.baseline:
                cell += f" ({_fmt_num(float(r['diff_mean']), '+,.2f')} [{_fmt_num(float(r['diff_lo']), ',.2f')}, " \
                        f"{_fmt_num(float(r['diff_hi']), ',.2f')}])"
            cells.append(cell)
        t.add_row(m, *cells)
    out.print(t)
    best = best_by_metric(res)
    out.print("best (lowest mean): " + "; ".join(f"{r['metric']} {r['best']}" for r in best.to_dict("records")
                                                 if r["metric"] in ("saidi", "weighted_cmi", "last_restored_min")
                                                 or r["metric"].startswith("crit_h_")))
    out.print(f"{len(res.runs)} runs × {len(names)} strategies in {elapsed:.1f} s with {workers} "
              f"{'Dask ' if executor is not None else ''}worker(s); "
              f"wrote results.parquet, summary.json, report.html to {out_dir}")
    if cc.interrupted:
        err.print(f"interrupted: kept the {len(res.runs)} of {n_runs} runs that finished; the files cover those runs")
        raise typer.Exit(130)


@app.command("advise")
def advise_cmd(model: str = typer.Argument(..., help="model"),
               budget: int = typer.Option(..., "--budget", help="number of measures to place (>= 1)"),
               what: str = typer.Option("switch", "--what", help="switch (remote switches) | tie (new tie lines "
                                                                  "between feeders) | both"),
               max_candidates: int = typer.Option(30, "--max-candidates",
                                                  help="candidates evaluated per step and kind (switches, ties), "
                                                       "best first (0: all the lazy greedy needs, exact, slower)"),
               max_tie_km: float = typer.Option(1.5, "--max-tie-km",
                                                help="longest straight line between the two buses of a new tie, km"),
               customers: Optional[Path] = typer.Option(None, "--customers", help="customers CSV"),
               json_out: bool = typer.Option(False, "--json", help="print JSON")):
    """Where remote-controlled switches or new tie lines cut expected SAIDI and critical-customer hours
    most: greedy placement with re-evaluation, scored on the analytic reliability with FLISR (score =
    share of the starting SAIDI removed + share of the starting critical-customer hours removed).

    Example: gridsim advise mv_oberrhein --budget 3 --what both
    """
    import math

    from gridsim.scenarios.advise import AdviseError, advise
    if budget < 1:
        raise AdviseError(f"--budget must be >= 1, got {budget}")
    if max_candidates < 0:
        raise AdviseError(f"--max-candidates must be >= 0, got {max_candidates}")
    if what not in ("switch", "tie", "both"):
        raise AdviseError(f"--what must be switch, tie or both, got {what!r}")
    if not (max_tie_km > 0 and math.isfinite(max_tie_km)):
        raise AdviseError(f"--max-tie-km must be a finite number > 0, got {max_tie_km}")
    m = _load(model, customers)
    res = advise(m, budget, what, max_candidates=max_candidates or None, max_tie_km=max_tie_km)
    if json_out:
        out.print_json(json.dumps(res.to_dict(), allow_nan=False))
        return
    n = res.candidates
    kinds = []
    if what in ("switch", "both"):
        kinds += [f"{n.get('convert', 0)} manual switches to convert",
                  f"{n.get('new_switch', 0)} MV lines without a switch"]
    if what in ("tie", "both"):
        kinds.append(f"{n.get('new_tie', 0)} new ties (bus pairs on different feeders within {max_tie_km:g} km)")
    out.print(f"[bold]{res.model}[/bold]: automation advice, budget {res.budget} ({res.what}); candidates: "
              + ", ".join(kinds))
    t = Table(title="Placements (in the order chosen)", title_justify="left", header_style="bold")
    for c, j in (("#", "right"), ("action", "left"), ("where", "left"), ("device", "left"),
                 ("SAIDI min/yr before → after", "right"), ("critical h/yr before → after", "right"),
                 ("score", "right"), ("faults re-planned", "right")):
        t.add_column(c, justify=j)
    label = {"convert": "make remote", "new_switch": "new remote switch", "new_tie": "new tie"}
    for p in res.placements:
        where = f"{p.target} ({p.length_km:.2f} km)" if p.action == "new_tie" else p.target
        device = f"{p.line} + {p.device}" if p.line else p.device
        t.add_row(str(p.rank), label.get(p.action, p.action), where, device,
                  f"{p.saidi_before:,.2f} → {p.saidi_after:,.2f}",
                  f"{p.critical_h_before:,.3f} → {p.critical_h_after:,.3f}", f"{p.score:.4f}", str(p.faults_replanned))
    out.print(t)
    if res.tie_cable and any(p.action == "new_tie" for p in res.placements):
        tc = res.tie_cable
        out.print(f"new ties: normally-open line, remote load-break switch at the first bus; cable "
                  f"{tc['std_type'] or tc['type']} (as {tc['copied_from']}, {tc['max_i_ka']:g} kA), "
                  f"length {tc['route_factor']:g} × straight-line distance")
    out.print(f"SAIDI {res.saidi_start:,.2f} → {res.saidi_end:,.2f} min/yr, critical-customer hours "
              f"{res.critical_h_start:,.3f} → {res.critical_h_end:,.3f} /yr; {res.evaluations} candidate "
              f"evaluations ({res.fault_replans} fault re-plans) in {res.elapsed_s:.1f} s")
    for n_ in res.notes:
        out.print(f"note: {n_}")


from gridsim.queues.cli import register as _register_queue_commands  # noqa: E402
_register_queue_commands(app)
from gridsim.live.cli import register as _register_live_commands  # noqa: E402
_register_live_commands(app)
from gridsim.app.cli import register as _register_app_commands  # noqa: E402
_register_app_commands(app)


def _one_line(text: str, limit: int = 1000) -> str:
    """An error message as one printable line: control characters escaped (a newline or a vertical tab
    in a user's file name would break the line), at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors (our own, a malformed command line, a path the OS refuses) print one
    line and exit 2."""
    # typer ships its own copy of click: take its exception classes from typer
    click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        rv = app(args=argv, standalone_mode=False)
    except GridsimError as e:
        err.print(f"error: {_one_line(str(e).replace(chr(10), ' '))}", markup=False)
        return 2
    except click_exception as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `gridsim` alone: the help text
            e.show()
            return e.exit_code
        msg = " ".join(e.format_message().split())   # click's usage errors as one line, not a box
        err.print(f"error: {_one_line(msg)} (add -h for help)", markup=False)
        return e.exit_code
    except typer.Abort:
        err.print("interrupted")
        return 130
    except OSError as e:  # a file or folder the OS refuses (name too long, a folder for a file, disk full)
        where = f"{e.filename}: " if e.filename else ""
        err.print(f"error: {_one_line(f'{where}{e.strerror or e}')}", markup=False)
        return 2
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        return code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
