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
              top: int = typer.Option(10, "--top", help="worst faults to show")):
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
    if out_path is not None:
        if out_path.suffix.lower() == ".csv":
            df.to_csv(out_path, index=False)
        else:
            df.to_parquet(out_path, index=False)
    _print_sweep(m, topo, df, top)
    exp = critical_exposure(topo)
    if len(exp):
        exp = exp.sort_values(["single_faults", "customer_id"], ascending=[False, True])
        out.print(_table(exp.drop(columns=["elements"]), "Critical customers: single faults that cut them off",
                         max_rows=top))
    out.print(f"{len(df):,} single faults of {m.name} ({topo.n_bus:,} buses): sweep {1e3 * (t3 - t2):.2f} ms "
              f"(first call incl. JIT {1e3 * (t2 - t1):.0f} ms), load+compile {t1 - t0:.1f} s"
              + (f"; wrote {out_path}" if out_path else ""))


def _print_sweep(m, topo, df, top):
    in_svc = df[df["in_service"]]
    worst = in_svc.sort_values(["customers_unsupplied", "critical_unsupplied"], ascending=False).head(top)
    cols = ["element_type", "element_id", "buses_unsupplied", "customers_unsupplied", "critical_unsupplied",
            "tripping_device", "customers_interrupted"]
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


@app.command("demo")
def demo_cmd(model: str = typer.Option("mv_oberrhein", "--model", help="model for the demo"),
             top: int = typer.Option(10, "--top", help="worst faults to show")):
    """Load mv_oberrhein, run every single fault, show the worst and the critical customers at risk.

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
    _print_sweep(m, topo, df, top)
    exp = critical_exposure(topo).sort_values(["single_faults", "customer_id"], ascending=[False, True])
    out.print(_table(exp.drop(columns=["elements"]), "Critical customers at risk (single faults that cut them off)"))
    out.print(f"all {len(df):,} single faults in {1e3 * (t3 - t2):.2f} ms "
              f"(first call incl. JIT compile {1e3 * (t2 - t1):.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one line and exit 2."""
    try:
        app(args=argv, standalone_mode=True)
    except GridsimError as e:
        msg = str(e).replace("\n", " ")
        err.print(f"error: {msg}", markup=False)
        return 2
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        return code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
