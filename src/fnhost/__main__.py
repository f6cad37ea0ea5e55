from fnhost.cli.main import app

app()
