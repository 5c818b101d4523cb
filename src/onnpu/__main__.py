from onnpu.cli import main_entry

main_entry()
