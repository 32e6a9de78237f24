from nids.cli import run

run()
