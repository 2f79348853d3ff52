# runhost's reader for one run inside a MIOSA sandbox (POSIX sh; run with POST /exec/stream).
#
#   sh tail.sh DIR OUT_OFFSET ERR_OFFSET PORTS_OFFSET
#
# Prints what run.sh left in DIR from the given byte offsets on, one line per chunk:
#   o OFFSET BASE64   stdout bytes at OFFSET        e OFFSET BASE64   stderr bytes
#   p OFFSET BASE64   bytes of the ports file       x STATUS          the runtime ended (last)
#   x lost            run.sh stopped beating without writing an exit status: it was killed
# The host resumes a dropped stream by running this again from the offsets it has; a chunk it
# already holds is recognised by its offset, so nothing is lost or repeated.
set -u
dir=$1
o=$2
e=$3
p=$4
chunk=49152
last_beat=
still=0  # idle polls since run.sh's beat last changed
while :; do
  [ -e "$dir/exit" ] && ended=1 || ended=0
  idle=1
  for tag in o e p; do
    case $tag in o) file=out off=$o ;; e) file=err off=$e ;; p) file=ports off=$p ;; esac
    size=$(wc -c <"$dir/$file" 2>/dev/null || echo 0)
    while [ "$off" -lt "$size" ]; do
      n=$((size - off))
      [ "$n" -gt "$chunk" ] && n=$chunk
      echo "$tag $off $(tail -c +$((off + 1)) "$dir/$file" | head -c "$n" | base64 | tr -d '\n')"
      off=$((off + n))
      idle=0
    done
    case $tag in o) o=$off ;; e) e=$off ;; p) p=$off ;; esac
  done
  if [ "$ended" = 1 ] && [ "$idle" = 1 ]; then
    echo "x $(cat "$dir/exit")"
    exit 0
  fi
  if [ "$idle" = 1 ] && [ "$ended" = 0 ]; then
    beat=$(cat "$dir/beat" 2>/dev/null)
    if [ -z "$beat" ] || [ "$beat" != "$last_beat" ]; then
      last_beat=$beat
      still=0
    else
      still=$((still + 1))
      # About 10 s without a beat (30 missed), counted in polls so a paused sandbox does not count.
      if [ "$still" -ge 100 ] && [ ! -e "$dir/exit" ]; then
        echo "x lost"
        exit 0
      fi
    fi
  fi
  [ "$idle" = 1 ] && sleep 0.1
done
