"""``onnpu doctor``: can this machine run models on the NPU?"""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg, add_soc_arg, refuse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check onnxruntime / QNN, the board's NPU setup, and run a live NPU self-test")
    p.add_argument("--no-selftest", action="store_true", help="skip the live NPU self-test")
    add_soc_arg(p)
    p.add_argument("--socs", action="store_true", help="list the SoCs onnpu knows (soc_model, HTP, Linux soc_id)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def _socs(as_json: bool) -> int:
    from rich.table import Table

    from onnpu.cli.console import out, print_json
    from onnpu.runtime.socs import DEFAULT_SOC, SOCS

    if as_json:
        print_json([s.to_dict() | {"note": s.note, "default": s.name == DEFAULT_SOC} for s in SOCS])
        return 0
    table = Table(title="SoCs (QNN soc_model and HTP arch as compiled by this QNN; Linux /sys/devices/soc0/soc_id)",
                  title_justify="left")
    for col in ("SoC", "soc_model", "HTP", "VTCM MB", "Linux soc_id", "boards", "note"):
        table.add_column(col, overflow="fold")
    for s in SOCS:
        table.add_row(s.name + (" (default)" if s.name == DEFAULT_SOC else ""), str(s.soc_model), f"v{s.htp_arch}",
                      f"{s.vtcm_mb:g}", ", ".join(map(str, s.linux_soc_ids)), ", ".join(s.boards), s.note)
    out().print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from onnpu.cli.console import escape, out, print_json
    from onnpu.tasks.doctor import doctor

    if args.socs:
        if args.no_selftest or args.soc:
            flag = "--no-selftest" if args.no_selftest else "--soc"
            refuse(args, f"{flag}: --socs lists the SoCs and checks nothing")
        return _socs(args.json)
    report = doctor(selftest=not args.no_selftest, soc=args.soc)
    exit_code = 0 if report.ok else 1
    if args.json:
        print_json(report.to_dict())
        return exit_code
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("python", report.python)
    table.add_row("machine", report.machine)
    table.add_row("onnxruntime", report.onnxruntime)
    table.add_row("onnxruntime-qnn", report.onnxruntime_qnn or "not installed")
    table.add_row("QNN SDK", report.qnn_sdk or "-")
    table.add_row("QNN EP", {"plugin": "plugin (registered with add_provider_for_devices)",
                             "builtin": "built into onnxruntime", "missing": "[red]missing[/]"}[report.qnn_mode])
    table.add_row("QNN EP generation", escape(report.qnn_generation))
    table.add_row("providers", ", ".join(report.providers))
    backends = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report.qnn_backends.items())
    table.add_row("QNN backends", backends or "-")
    table.add_row("HTP", report.htp)
    if report.soc:
        table.add_row("SoC", f"{report.soc['name']} (HTP v{report.soc['htp_arch']}, soc_model "
                             f"{report.soc['soc_model']}) — {report.soc['source']}")
    for problem in report.problems:
        table.add_row("[red]problem[/]", problem)
    out().print(table)
    for check in report.board:
        verdict = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
        out().print(f"{verdict} {escape(check.name)}: {escape(check.detail)}", soft_wrap=True)
        if check.fix and not check.passed:
            out().print(f"     fix: {escape(check.fix)}", soft_wrap=True)
    st = report.selftest
    if st is not None:
        verdict = "[bold green]PASS[/]" if st.passed else "[bold red]FAIL[/]"
        out().print(f"self-test: {verdict} — {st.detail}", soft_wrap=True)
        if st.npu_session_ms is not None:
            out().print(f"  NPU session {st.npu_session_ms:.0f} ms, NPU run {st.npu_run_ms:.2f} ms, "
                        f"CPU run {st.cpu_run_ms:.2f} ms; {st.placement}")
    return exit_code
