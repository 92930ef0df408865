"""The programs of the Linux hosts' benign activity, as data.

Nothing here may produce a document that a seed rule would alert on: no ``emond`` or
``installer`` children, no hidden ``.plist`` in a LaunchAgents/LaunchDaemons directory, and
``exim4`` spawns only names the Exim4 rule excludes.  ``tests/test_generator.py`` checks
that against predicates restating each rule.
"""

from __future__ import annotations

from typing import Final

from runner.demo.catalog import AppSpec, CommandSpec

LINUX_APPS: Final = (
    AppSpec(
        key="systemd",
        executable="/usr/lib/systemd/systemd",
        args=("/sbin/init", "splash"),
        user="root",
        parent=None,
    ),
    AppSpec(
        key="journald",
        executable="/usr/lib/systemd/systemd-journald",
        args=("/lib/systemd/systemd-journald",),
        user="root",
        parent="systemd",
        files=(
            "/var/log/journal/{machine}/system@{rand}.journal~",
            "/var/log/journal/{machine}/user-1000.journal",
        ),
        file_actions=("creation", "modification", "rename"),
    ),
    AppSpec(
        key="sshd",
        executable="/usr/sbin/sshd",
        args=("sshd:", "/usr/sbin/sshd", "-D"),
        user="root",
        parent="systemd",
        inbound=("ssh_in",),
    ),
    AppSpec(
        key="cron",
        executable="/usr/sbin/cron",
        args=("/usr/sbin/cron", "-f", "-P"),
        user="root",
        parent="systemd",
    ),
    AppSpec(
        key="rsyslogd",
        executable="/usr/sbin/rsyslogd",
        args=("/usr/sbin/rsyslogd", "-n"),
        user="syslog",
        parent="systemd",
        files=("/var/log/syslog", "/var/log/auth.log", "/var/log/mail.log"),
        file_actions=("modification",),
    ),
    AppSpec(
        key="chronyd",
        executable="/usr/sbin/chronyd",
        args=("/usr/sbin/chronyd", "-F", "1"),
        user="root",
        parent="systemd",
        net=("ntp", "dns"),
    ),
    AppSpec(
        key="exim4",
        executable="/usr/sbin/exim4",
        args=("/usr/sbin/exim4", "-bd", "-q30m"),
        user="Debian-exim",
        parent="systemd",
        roles=("mail",),
        files=(
            "/var/spool/exim4/input/{rand}-H",
            "/var/spool/exim4/input/{rand}-D",
            "/var/spool/exim4/msglog/{rand}",
            "/var/log/exim4/mainlog",
        ),
        file_actions=("creation", "deletion", "modification"),
        net=("smtp_relay", "dns"),
        inbound=("smtp_in",),
    ),
    AppSpec(
        key="nginx",
        executable="/usr/sbin/nginx",
        args=("nginx:", "worker", "process"),
        user="www-data",
        parent="systemd",
        roles=("web", "app"),
        files=("/var/cache/nginx/proxy_temp/{rand}", "/var/log/nginx/access.log"),
        file_actions=("creation", "deletion", "modification"),
        net=("postgres",),
        inbound=("https_in", "https_in"),
    ),
    AppSpec(
        key="postgres",
        executable="/usr/lib/postgresql/15/bin/postgres",
        args=(
            "/usr/lib/postgresql/15/bin/postgres",
            "-D",
            "/var/lib/postgresql/15/main",
            "-c",
            "config_file=/etc/postgresql/15/main/postgresql.conf",
        ),
        user="postgres",
        parent="systemd",
        roles=("db",),
        cwd="/var/lib/postgresql/15/main",
        files=(
            "/var/lib/postgresql/15/main/pg_wal/{rand}",
            "/var/lib/postgresql/15/main/base/16384/{rand}",
            "/var/lib/postgresql/15/main/pg_stat_tmp/global.tmp",
        ),
        file_actions=("creation", "modification", "rename", "deletion"),
        inbound=("pg_in",),
    ),
    AppSpec(
        key="dockerd",
        executable="/usr/bin/dockerd",
        args=("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
        user="root",
        parent="systemd",
        roles=("ci", "app"),
        files=(
            "/var/lib/docker/overlay2/{rand}/diff/tmp/build.log",
            "/var/lib/docker/containers/{rand}/hostconfig.json",
        ),
        file_actions=("creation", "modification", "deletion"),
        net=("registry", "https"),
    ),
    AppSpec(
        key="gitlab-runner",
        executable="/usr/bin/gitlab-runner",
        args=("/usr/bin/gitlab-runner", "run", "--working-directory", "/home/gitlab-runner"),
        user="gitlab-runner",
        parent="systemd",
        roles=("ci",),
        cwd="/home/gitlab-runner",
        files=("/home/gitlab-runner/builds/{rand}/0/webapp/.git/index.lock",),
        file_actions=("creation", "deletion"),
        net=("git", "https"),
    ),
    AppSpec(
        key="node",
        executable="/usr/bin/node",
        args=("/usr/bin/node", "/srv/app/server.js"),
        user="deploy",
        parent="systemd",
        roles=("app", "web"),
        cwd="/srv/app",
        files=("/srv/app/logs/app.log", "/tmp/upload_{rand}"),
        file_actions=("modification", "creation", "deletion"),
        net=("postgres", "https"),
        inbound=("app_in",),
    ),
)

# Started by cron (through /bin/sh -c) on every Linux host.
LINUX_CRON: Final = (
    CommandSpec(
        executable="/usr/bin/run-parts",
        args=("run-parts", "--report", "/etc/cron.hourly"),
        duration_ms=300,
    ),
    CommandSpec(
        executable="/usr/sbin/logrotate",
        args=("/usr/sbin/logrotate", "/etc/logrotate.conf"),
        files=("/var/log/syslog.1", "/var/log/auth.log.1", "/var/lib/logrotate/status"),
        file_actions=("rename", "creation", "modification"),
        duration_ms=700,
    ),
    CommandSpec(
        executable="/usr/bin/php8.2",
        args=("php", "/srv/app/bin/console", "app:cleanup"),
        duration_ms=2000,
        files=("/srv/app/var/cache/prod/{rand}.php",),
        file_actions=("creation", "deletion"),
    ),
    CommandSpec(
        executable="/usr/bin/certbot",
        args=("certbot", "-q", "renew"),
        net=("https",),
        duration_ms=4000,
    ),
    CommandSpec(
        executable="/usr/lib/apt/apt.systemd.daily",
        args=("/bin/sh", "/usr/lib/apt/apt.systemd.daily", "update"),
        net=("http_mirror",),
        files=("/var/lib/apt/lists/partial/{rand}",),
        file_actions=("creation", "rename", "deletion"),
        duration_ms=12000,
    ),
)

# What an admin runs over ssh (sshd -> bash -> command).
LINUX_COMMANDS: Final = (
    CommandSpec(executable="/usr/bin/ls", args=("ls", "-la", "/var/log"), duration_ms=10),
    CommandSpec(
        executable="/usr/bin/tail", args=("tail", "-n", "200", "/var/log/syslog"), duration_ms=20
    ),
    CommandSpec(
        executable="/usr/bin/systemctl", args=("systemctl", "status", "nginx"), duration_ms=80
    ),
    CommandSpec(executable="/usr/bin/df", args=("df", "-h"), duration_ms=8),
    CommandSpec(executable="/usr/bin/ps", args=("ps", "aux"), duration_ms=40),
    CommandSpec(
        executable="/usr/bin/git",
        args=("git", "pull"),
        net=("git",),
        files=("/srv/app/.git/FETCH_HEAD",),
        duration_ms=1500,
    ),
    CommandSpec(
        executable="/usr/bin/python3",
        args=("python3", "/srv/app/manage.py", "migrate"),
        net=("postgres",),
        duration_ms=5000,
    ),
    CommandSpec(
        executable="/usr/bin/curl",
        args=("curl", "-sI", "https://198.51.100.7/"),
        net=("https",),
        duration_ms=250,
    ),
    CommandSpec(
        executable="/usr/bin/vim.basic",
        args=("vim", "/etc/nginx/sites-available/app"),
        files=("/etc/nginx/sites-available/.app.swp", "/etc/nginx/sites-available/app"),
        file_actions=("creation", "modification", "deletion"),
        duration_ms=40000,
    ),
    CommandSpec(
        executable="/usr/bin/journalctl",
        args=("journalctl", "-u", "exim4", "-n", "50"),
        duration_ms=120,
    ),
    CommandSpec(
        executable="/usr/bin/apt-get",
        args=("apt-get", "install", "-y", "htop"),
        net=("http_mirror",),
        files=("/var/cache/apt/archives/partial/{rand}.deb",),
        file_actions=("creation", "rename"),
        duration_ms=8000,
    ),
)

# exim4 children seen in benign noise: every name is on the Exim4 rule's exclusion list.
EXIM4_BENIGN_CHILDREN: Final = (
    CommandSpec(
        executable="/usr/sbin/exim4",
        args=("/usr/sbin/exim4", "-Mc", "{msgid}"),
        files=("/var/spool/exim4/input/{rand}-H", "/var/spool/exim4/db/retry.lockfile"),
        file_actions=("deletion", "creation"),
        net=("smtp_relay",),
        duration_ms=900,
    ),
    CommandSpec(executable="/usr/sbin/exim4", args=("/usr/sbin/exim4", "-q"), duration_ms=400),
    CommandSpec(
        executable="/usr/bin/run-parts",
        args=("run-parts", "--lsbsysinit", "/etc/exim4/conf.d"),
        duration_ms=60,
    ),
)
