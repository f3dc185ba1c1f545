from tokenlens.cli import run

run()
