# A throw-away single-node Slurm on this machine, for scripts/test-slurm and
# scripts/slurm/scaling. Source it, then:
#
#   slurm_up SCRATCH     # installs slurm-wlm and munge if missing, starts munged
#                        # (unless one answers), slurmctld and slurmd with
#                        # SLURM_CONF=SCRATCH/slurm.conf on free ports
#   slurm_down           # cancels our jobs, stops what slurm_up started (by pid)
#   slurm_wait S JOBID.. # waits until the jobs have left the queue (fails after S
#                        # seconds, or when a dependency can never be satisfied)
#   slurm_state JOBID    # JobState of a finished or running job (e.g. COMPLETED)
#
# Nothing in /etc/slurm is touched; the munge key is created only if absent.
# Needs root (or sudo): slurmd runs jobs as their users.

_slurm_started_munged=""
_slurm_scratch=""

_slurm_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

slurm_up() {
  _slurm_scratch=$1
  mkdir -p "$_slurm_scratch/state" "$_slurm_scratch/spool" "$_slurm_scratch/log"
  local missing=""
  for p in slurm-wlm munge; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "installing Debian packages:$missing"
    _slurm_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _slurm_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
      _slurm_sudo dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
      _slurm_sudo chown munge:munge /etc/munge/munge.key
      _slurm_sudo chmod 400 /etc/munge/munge.key
    fi
    _slurm_sudo mkdir -p /run/munge /var/log/munge /var/lib/munge
    _slurm_sudo chown munge:munge /run/munge /var/log/munge /var/lib/munge
    _slurm_sudo su -s /bin/sh munge -c /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    _slurm_started_munged=$(cat /run/munge/munged.pid 2>/dev/null || true)
    munge -n | unmunge >/dev/null || { echo "munged does not answer" >&2; return 1; }
  fi
  local host mem base
  host=$(hostname -s)
  mem=$(awk '/MemTotal/ {printf "%d", $2/1024*0.8}' /proc/meminfo)
  base=$((20000 + ($$ % 5000) * 2))   # ports of our own, so a second test can run beside
  cat > "$_slurm_scratch/slurm.conf" <<CONF
ClusterName=lenscoretest
SlurmctldHost=$host
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$_slurm_scratch/state
SlurmdSpoolDir=$_slurm_scratch/spool
SlurmctldLogFile=$_slurm_scratch/log/ctld.log
SlurmdLogFile=$_slurm_scratch/log/d.log
SlurmctldPidFile=$_slurm_scratch/ctld.pid
SlurmdPidFile=$_slurm_scratch/d.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=10
MinJobAge=3600
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$_slurm_scratch/slurm.conf
  _slurm_sudo env SLURM_CONF="$SLURM_CONF" slurmctld
  _slurm_sudo env SLURM_CONF="$SLURM_CONF" slurmd
  for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -qx idle && return 0
    sleep 0.2
  done
  echo "slurm did not come up; logs:" >&2
  tail -n 20 "$_slurm_scratch"/log/*.log >&2
  return 1
}

slurm_down() {
  [ -n "$_slurm_scratch" ] || return 0
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$_slurm_scratch/ctld.pid" ]; then
    scancel --user="$(id -un)" 2>/dev/null || true
    sleep 1
  fi
  local f pid
  for f in "$_slurm_scratch/d.pid" "$_slurm_scratch/ctld.pid"; do
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && _slurm_sudo kill "$pid" 2>/dev/null || true
  done
  for f in "$_slurm_scratch/d.pid" "$_slurm_scratch/ctld.pid"; do
    pid=$(cat "$f" 2>/dev/null || true)
    for _ in $(seq 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && _slurm_sudo kill -9 "$pid" 2>/dev/null
  done
  if [ -n "$_slurm_started_munged" ]; then
    _slurm_sudo kill "$_slurm_started_munged" 2>/dev/null || true
    _slurm_started_munged=""
  fi
  _slurm_scratch=""
}

slurm_wait() { # slurm_wait SECONDS JOBID...: fails after SECONDS or on a dependency never satisfied
  local limit=$1 t0 id q
  shift
  t0=$(date +%s)
  for id in "$@"; do
    while q=$(squeue -h -o '%i %T %r' -j "$id" 2>/dev/null) && [ -n "$q" ]; do
      if echo "$q" | grep -q DependencyNeverSatisfied; then
        echo "slurm_wait: job $id can never start (a job it depends on failed): $q" >&2
        return 1
      fi
      if [ $(( $(date +%s) - t0 )) -gt "$limit" ]; then
        echo "slurm_wait: jobs still queued after $limit s: $q" >&2
        return 1
      fi
      sleep 1
    done
  done
}

slurm_state() {
  scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1
}
