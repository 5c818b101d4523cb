"""``onnpu doctor``: can this machine run models on the NPU?"""

from __future__ import annotations

import argparse

from onnpu.cli.args import add_json_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check onnxruntime / QNN versions and run a live NPU self-test")
    p.add_argument("--no-selftest", action="store_true", help="skip the live NPU self-test")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from onnpu.cli.console import out, print_json
    from onnpu.tasks.doctor import doctor

    report = doctor(selftest=not args.no_selftest)
    exit_code = 0 if report.ok or (args.no_selftest and report.compatible) else 1
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
    table.add_row("providers", ", ".join(report.providers))
    backends = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report.qnn_backends.items())
    table.add_row("QNN backends", backends or "-")
    table.add_row("HTP", report.htp)
    for problem in report.problems:
        table.add_row("[red]problem[/]", problem)
    out().print(table)
    st = report.selftest
    if st is not None:
        verdict = "[bold green]PASS[/]" if st.passed else "[bold red]FAIL[/]"
        out().print(f"self-test: {verdict} — {st.detail}", soft_wrap=True)
        if st.npu_session_ms is not None:
            out().print(f"  NPU session {st.npu_session_ms:.0f} ms, NPU run {st.npu_run_ms:.2f} ms, "
                        f"CPU run {st.cpu_run_ms:.2f} ms; {st.placement}")
    return exit_code
