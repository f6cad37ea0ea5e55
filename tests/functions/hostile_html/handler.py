import time


def handle(data):
    # Each line would run script, or fetch an image, if a page showed it as HTML.
    print("<script>window.__pwned = 'log'</script>", flush=True)
    print('<img src="x" onerror="window.__pwned = \'img\'">', flush=True)
    time.sleep(data.get("linger", 0))
    if data.get("fail"):
        raise ValueError("<script>window.__pwned = 'error'</script>")
    return {"html": "<script>window.__pwned = 'response'</script>"}
