# runhost's starter for one run inside a MIOSA sandbox (POSIX sh; sent by the sandbox device
# with fs/write-many, started with POST /processes).
#
#   sh run.sh DIR CWD ARGV...
#
# Runs ARGV in CWD with its stdin, stdout and stderr on files in the run's directory DIR, the
# only channel the MIOSA API leaves (it has no stdin route and no output cursor):
#   in.0 in.1 ...  input, written by the host in order; eof.N (N: the next index) closes it
#   out err        the runtime's output, read back by tail.sh at byte offsets
#   ports          "PORT ADDRESS PID" for each TCP socket a process of the run listens on
#   beat           a counter this script's port watcher raises every 0.3 s while the script
#                  lives, so tail.sh can tell a starter that was killed (no exit status will
#                  come) from one still waiting, with no pid shared between their namespaces
#   exit           the runtime's exit status, written last and atomically
# A second start of the same run does nothing (mkdir is atomic), so the host may retry the
# start. SIGTERM (the process API's stop) is passed on to the runtime; the status then says so.
# When the runtime ends, every process left with the run's marker (RUNHOST_RUN_ID) is killed.
set -u
dir=$1
cwd=$2
shift 2
mkdir "$dir/started" 2>/dev/null || exit 0
: >"$dir/out"
: >"$dir/err"
: >"$dir/ports"
mkdir -p "$cwd" && cd "$cwd" || {
  echo "runhost: cannot enter the working directory $cwd" >>"$dir/err"
  echo 126 >"$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
  exit 0
}

# Input: each in.N in order, as it appears, until eof.N.
feed() {
  n=0
  while :; do
    if [ -e "$dir/in.$n" ]; then
      cat "$dir/in.$n" || return
      n=$((n + 1))
    elif [ -e "$dir/eof.$n" ]; then
      return
    else
      sleep 0.05
    fi
  done
}

# Ports: the TCP sockets in LISTEN state (/proc/net/tcp and tcp6, state 0A) whose inode a
# process of this run (RUNHOST_RUN_ID in its environment) holds, each reported once.
listening() {
  for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] && awk -v six="$table" '
      function hex(s,   i, n) { n = 0; for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1; return n }
      NR > 1 && $4 == "0A" {
        split($2, a, ":"); addr = a[1]
        if (six ~ /6$/) { host = addr ~ /^0+$/ ? "::" : addr == "00000000000000000000000001000000" ? "::1" : addr }
        else host = hex(substr(addr, 7, 2)) "." hex(substr(addr, 5, 2)) "." hex(substr(addr, 3, 2)) "." hex(substr(addr, 1, 2))
        print $10, hex(a[2]), host
      }' "$table"
  done
}
watch_ports() {
  known=" "  # inodes seen in LISTEN: reported, or another's
  beat=0
  while kill -0 $$ 2>/dev/null; do  # $$: this script, also in the subshell
    beat=$((beat + 1))
    echo "$beat" >"$dir/beat"
    listening >"$dir/.listening"
    new=0
    while read -r inode port host; do
      case $known in *" $inode "*) ;; *) new=1 ;; esac
    done <"$dir/.listening"
    if [ "$new" = 1 ]; then
      : >"$dir/.sockets"
      for proc in /proc/[0-9]*; do
        tr '\0' '\n' 2>/dev/null <"$proc/environ" | grep -qx "RUNHOST_RUN_ID=$RUNHOST_RUN_ID" || continue
        ls -l "$proc/fd" 2>/dev/null | sed -n "s|.*socket:\[\([0-9]*\)\]\$|\1 ${proc#/proc/}|p" >>"$dir/.sockets"
      done
      while read -r inode port host; do
        case $known in *" $inode "*) continue ;; esac
        pid=$(awk -v i="$inode" '$1 == i { print $2; exit }' "$dir/.sockets")
        [ -n "$pid" ] && echo "$port $host $pid" >>"$dir/ports"
        known="$known$inode "
      done <"$dir/.listening"
    fi
    sleep 0.3
  done
}

mkfifo "$dir/stdin"
feed >"$dir/stdin" &
feeder=$!
watch_ports 2>/dev/null &
watcher=$!
"$@" <"$dir/stdin" >>"$dir/out" 2>>"$dir/err" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
kill "$feeder" "$watcher" 2>/dev/null
wait 2>/dev/null
# What the run left running (a server in the background) ends with it, as on the local device:
# every other process carrying the run's marker.
# Not this script nor what it runs under (a sandbox's init, the process API's shell wrapper).
keep=" 1 $$ "
ancestor=$$
while [ "$ancestor" -gt 1 ]; do
  ancestor=$(awk '{ print $4 }' "/proc/$ancestor/stat" 2>/dev/null)
  [ -n "$ancestor" ] || break
  keep="$keep$ancestor "
done
for proc in /proc/[0-9]*; do
  case $keep in *" ${proc#/proc/} "*) continue ;; esac
  tr '\0' '\n' 2>/dev/null <"$proc/environ" | grep -qx "RUNHOST_RUN_ID=$RUNHOST_RUN_ID" && kill -KILL "${proc#/proc/}" 2>/dev/null
done
echo "$status" >"$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
