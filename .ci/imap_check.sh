#!/usr/bin/env bash
# imap_check.sh HERALD: returned mail through a real IMAP server. Starts Debian's Dovecot on a
# free port of 127.0.0.1 with a configuration of its own in a temp dir (one test user in a
# passwd-file, plain login allowed on loopback only, Maildir storage in the temp dir), runs
# .ci/imap_check.py against it (which APPENDs bounces into the user's INBOX with imaplib, then
# runs `herald bounces fetch` and `herald publish`), and stops Dovecot again, whatever happened.
#
# Installs dovecot-imapd when Dovecot is missing. Works as root (Dovecot's own users run the
# login and mail processes; the mail belongs to `nobody`) and as any other user (everything
# runs as that user).
set -euo pipefail
cd "$(dirname "$0")/.."
herald=${1:-target/release/herald}
if [ ! -x "$herald" ]; then
  cargo build --release --quiet
  herald=target/release/herald
fi
herald=$(cd "$(dirname "$herald")" && pwd)/$(basename "$herald")
if ! command -v dovecot >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq dovecot-imapd >/dev/null
fi
dovecot=$(command -v dovecot)

work=$(mktemp -d)
pidfile=$work/run/master.pid
stop() {
  if [[ -f $pidfile ]]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 50); do
      [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$work"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=herald-test
password="imap-$RANDOM-$RANDOM-$RANDOM"
mkdir -p "$work/run" "$work/state" "$work/mail"
if [[ $(id -u) -eq 0 ]]; then
  # Dovecot never runs mail processes as root: the mail belongs to nobody, and its login and
  # internal processes run as the users the package made.
  mail_user=nobody
  mail_group=$(id -gn nobody)
  login_user=dovenull
  internal_user=dovecot
  chown "$mail_user:$mail_group" "$work/mail"
  chmod 755 "$work"
else
  mail_user=$(id -un)
  mail_group=$(id -gn)
  login_user=$mail_user
  internal_user=$mail_user
fi
uid=$(id -u "$mail_user")
gid=$(getent group "$mail_group" | cut -d: -f3)
printf '%s:{PLAIN}%s:::::\n' "$user" "$password" > "$work/passwd"
chmod 644 "$work/passwd"
version=$("$dovecot" --version | cut -d. -f1,2)
if [[ $version == 2.3 ]]; then
  cat > "$work/dovecot.conf" <<EOF
# Written by .ci/imap_check.sh for one run; nothing of /etc/dovecot is read.
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $internal_user
default_internal_group = $(id -gn "$internal_user")
default_login_user = $login_user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
mail_location = maildir:$work/mail/%u
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $work/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$work/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
else
  # Dovecot 2.4 (Debian 13) renamed most settings: the same configuration in its words, after
  # its documentation.
  cat > "$work/dovecot.conf" <<EOF
# Written by .ci/imap_check.sh for one run; nothing of /etc/dovecot is read.
dovecot_config_version = $("$dovecot" --version | cut -d' ' -f1)
dovecot_storage_version = $("$dovecot" --version | cut -d' ' -f1)
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
default_internal_user = $internal_user
default_internal_group = $(id -gn "$internal_user")
default_login_user = $login_user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
mail_driver = maildir
mail_path = $work/mail/%{user}
mail_home = $work/mail/%{user}
namespace inbox {
  inbox = yes
  separator = /
}
passdb passwd-file {
  passwd_file_path = $work/passwd
}
userdb static {
  fields {
    uid = $uid
    gid = $gid
    home = $work/mail/%{user}
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    listen = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
fi
"$dovecot" -c "$work/dovecot.conf"
python3 - "$port" <<'PY'
import socket, sys, time
deadline = time.time() + 20
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("imap_check.sh: Dovecot did not start listening")
        time.sleep(0.1)
PY
echo "imap_check.sh: Dovecot $("$dovecot" --version) on 127.0.0.1:$port"
code=0
# The password reaches herald and the check through the environment, as in production.
HERALD_IMAP_PASSWORD=$password python3 .ci/imap_check.py --herald "$herald" --port "$port" --user "$user" || code=$?
if [[ $code -ne 0 ]]; then
  echo "imap_check.sh: Dovecot's log:" >&2
  tail -n 40 "$work/dovecot.log" >&2 || true
fi
exit "$code"
