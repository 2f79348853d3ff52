#!/bin/sh
# The demo job: a small piece of work as an agent would do it, run by runhost's custom runtime.
# It writes files, starts a web server on a free port and checks it, produces a report, and
# exits. runhost reports what it saw: output, files changed, the preview, the artifacts.
set -eu
echo "task: $RUNHOST_PROMPT"

mkdir -p site
cat > site/index.html <<'HTML'
<!doctype html><title>runhost demo</title><h1>Hello from a runhost run</h1>
HTML
echo "wrote site/index.html"

python3 -u -m http.server 0 --bind 127.0.0.1 --directory site > server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 50); do
  port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' server.log | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }
echo "serving site/ on port $port"
sleep 1   # long enough for the host to see the listening port
python3 - "$port" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/").read().decode()
print("fetched the page:", "ok" if "Hello from a runhost run" in body else "WRONG")
PY

printf 'step,seconds\nwrite,0.1\nserve,1.0\n' > timings.csv
cat > report.html <<'HTML'
<!doctype html><title>Demo report</title><p>The site was written, served and checked.</p>
HTML
echo "wrote report.html and timings.csv"
echo "done"
