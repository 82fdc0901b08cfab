# A one-node SLURM cluster on this machine, for run_slurm_check.sh (source this file):
#   slurm_install   Debian's packages: slurm-wlm (slurmctld, slurmd, clients), slurmdbd, munge,
#                   mariadb-server (the accounting database that sacct reads)
#   slurm_up        munged, MariaDB, slurmdbd, slurmctld, slurmd: each with its own files under
#                   $SLURM_DIR and its own ports (base $SLURM_PORT_BASE), not the system's services;
#                   one node with this machine's CPUs and memory, one partition. The configuration
#                   goes where every SLURM command looks by default, /etc/slurm/ (a file already
#                   there is set aside and put back by slurm_down): the executor plugin's job step
#                   (snakemake-executor-plugin-slurm-jobstep 0.6) drops SLURM_* variables, SLURM_CONF
#                   included, before its srun, so a configuration elsewhere is not found inside jobs
#   slurm_down      stops the daemons slurm_up started (by the pids it recorded), and only those;
#                   restores /etc/slurm/
# Needs root: slurmd starts each job as the user who submitted it.
# Configuration keys: https://slurm.schedmd.com/archive/slurm-22.05.8/slurm.conf.html and
# slurmdbd.conf.html (Debian 12 ships SLURM 22.05).

SLURM_DIR=${SLURM_DIR:-/tmp/flowbench-slurm/cluster}
SLURM_PORT_BASE=${SLURM_PORT_BASE:-16817}   # slurmctld; slurmd +1, slurmdbd +2, MariaDB +3
SLURM_CLUSTER_NAME=flowbench
SLURM_PARTITION=debug
SLURM_ACCOUNT=flowbench
SLURM_ETC=/etc/slurm
SLURM_MARK="# written by flowbench tests/slurm/slurm_cluster.sh"
unset SLURM_CONF   # the default, $SLURM_ETC/slurm.conf

_log() { echo "[slurm_cluster] $*" >&2; }

slurm_install() {
  local pkgs=(slurm-wlm slurmdbd munge mariadb-server)
  if dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
    _log "installed: $(dpkg-query -W -f='${Package} ${Version}  ' "${pkgs[@]}")"
    return 0
  fi
  _log "apt-get install ${pkgs[*]}"
  apt-get update -qq
  # policy-rc.d in containers keeps the packages' own services from starting, which is what we want
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  _log "installed: $(dpkg-query -W -f='${Package} ${Version}  ' "${pkgs[@]}")"
}

_wait_for() {  # _wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq "$t"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  _log "timed out waiting for $what"; return 1
}

_pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

slurm_up() {
  local d=$SLURM_DIR p=$SLURM_PORT_BASE
  local ctld_port=$p slurmd_port=$((p + 1)) dbd_port=$((p + 2)) db_port=$((p + 3))
  local host; host=$(hostname -s)
  mkdir -p "$d"/{etc-saved,run,log,state,spool,munge,mysql} "$SLURM_ETC"
  chmod 700 "$d/munge"
  local f
  for f in slurm.conf slurmdbd.conf; do   # set aside a configuration that is not ours
    if [ -e "$SLURM_ETC/$f" ] && ! grep -qxF "$SLURM_MARK" "$SLURM_ETC/$f"; then
      mv "$SLURM_ETC/$f" "$d/etc-saved/$f"
    fi
  done

  # munge on its default socket (SLURM 22.05 reaches slurmdbd through it whatever AuthInfo says):
  # a munged already serving it is used as it is; otherwise one is started with a key of its own
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    _log "using the munged that already runs"
  else
    [ -s "$d/munge/munge.key" ] || mungekey -c -k "$d/munge/munge.key"
    mkdir -p /run/munge
    munged --force --key-file="$d/munge/munge.key" --pid-file="$d/run/munged.pid" \
      --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed"
    _wait_for 20 munged sh -c "munge -n | unmunge"
  fi

  # MariaDB for slurmdbd: a data directory of its own, on 127.0.0.1 only
  if [ ! -d "$d/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --user=root --datadir="$d/mysql" --skip-test-db \
      --auth-root-authentication-method=normal >"$d/log/mariadb-install.log" 2>&1
  fi
  mariadbd --no-defaults --user=root --datadir="$d/mysql" --socket="$d/run/mysql.sock" \
    --port="$db_port" --bind-address=127.0.0.1 --pid-file="$d/run/mariadb.pid" \
    --log-error="$d/log/mariadb.log" --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
  _wait_for 60 MariaDB mariadb --no-defaults --socket="$d/run/mysql.sock" -uroot -e "select 1"
  mariadb --no-defaults --socket="$d/run/mysql.sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'flowbench';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'flowbench';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

  # the node: this machine's CPUs as slurmd sees them; its memory less 2 GB for everything else
  local node mem avail
  node=$(slurmd -C | head -1 | sed -E 's/ RealMemory=[0-9]+//; s/^NodeName=[^ ]+ //')
  mem=$(slurmd -C | head -1 | sed -E 's/.*RealMemory=([0-9]+).*/\1/')
  avail=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
  [ "$avail" -lt "$mem" ] && mem=$avail

  cat >"$SLURM_ETC/slurmdbd.conf" <<EOF
$SLURM_MARK
AuthType=auth/munge
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
PidFile=$d/run/slurmdbd.pid
LogFile=$d/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=flowbench
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$SLURM_ETC/slurmdbd.conf"

  cat >"$SLURM_ETC/slurm.conf" <<EOF
$SLURM_MARK
ClusterName=$SLURM_CLUSTER_NAME
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
# no cgroups here (a container): processes tracked through /proc, no CPU binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmdSpoolDir=$d/spool
StateSaveLocation=$d/state
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SchedulerType=sched/backfill
# CPUs and memory are both consumable: a job gets its --cpus-per-task and its --mem
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=5
# a step whose RSS exceeds its job's --mem is killed, as on a cluster that enforces memory
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
# sacct shows the comment the plugin gives each job: rule_<rule>_wildcards_<wildcards>
AccountingStoreFlags=job_comment
MinJobAge=600
KillWait=10
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 $node RealMemory=$mem State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

  slurmdbd   # daemonises; pid in $d/run/slurmdbd.pid
  _wait_for 60 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster "$SLURM_CLUSTER_NAME" >/dev/null 2>&1 || true
  sacctmgr -i add account "$SLURM_ACCOUNT" cluster="$SLURM_CLUSTER_NAME" \
    description=flowbench organization=flowbench >/dev/null 2>&1 || true
  sacctmgr -i add user "$(id -un)" account="$SLURM_ACCOUNT" cluster="$SLURM_CLUSTER_NAME" >/dev/null 2>&1 || true

  slurmctld
  _wait_for 60 slurmctld scontrol ping
  slurmd
  _wait_for 60 "the node to be idle" sh -c "sinfo -h -N -o %T | grep -qx idle"
  _log "up: $(sinfo -h -N -o '%N %c CPUs %m MB %T') (SLURM $(sinfo -V | awk '{print $2}'))"
}

slurm_down() {
  local d=$SLURM_DIR
  if _pid_alive "$d/run/slurmctld.pid"; then scancel --user="$(id -un)" 2>/dev/null || true; sleep 2; fi
  for name in slurmd slurmctld slurmdbd mariadb munged; do
    local pf="$d/run/$name.pid"
    if _pid_alive "$pf"; then
      local pid; pid=$(cat "$pf")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
      _log "stopped $name (pid $pid)"
    fi
  done
  local f
  for f in slurm.conf slurmdbd.conf; do
    if [ -e "$SLURM_ETC/$f" ] && grep -qxF "$SLURM_MARK" "$SLURM_ETC/$f"; then rm -f "$SLURM_ETC/$f"; fi
    if [ -e "$d/etc-saved/$f" ]; then mv "$d/etc-saved/$f" "$SLURM_ETC/$f"; fi
  done
}
