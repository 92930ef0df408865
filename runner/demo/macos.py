"""The programs of the macOS hosts' benign activity, as data.

Nothing here may produce a document that a seed rule would alert on: no ``emond`` or
``installer`` children, no hidden ``.plist`` in a LaunchAgents/LaunchDaemons directory, and
``exim4`` spawns only names the Exim4 rule excludes.  ``tests/test_generator.py`` checks
that against predicates restating each rule.
"""

from __future__ import annotations

from typing import Final

from runner.demo.catalog import AppSpec, CommandSpec

_SPOTLIGHT = "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework"
_WEBKIT = "/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices"
_KEYSTONE = (
    "{home}/Library/Google/GoogleSoftwareUpdate/GoogleSoftwareUpdate.bundle/Contents/"
    "Helpers/GoogleSoftwareUpdateAgent.app/Contents/MacOS/GoogleSoftwareUpdateAgent"
)

MAC_APPS: Final = (
    AppSpec(
        key="launchd", executable="/sbin/launchd", args=("/sbin/launchd",), user="root", parent=None
    ),
    AppSpec(
        key="Terminal",
        executable="/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
        args=("/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",),
        user="user",
        parent="launchd",
        files=("{home}/Library/Saved Application State/com.apple.Terminal.savedState/data.data",),
        file_actions=("modification",),
    ),
    AppSpec(
        key="zsh",
        executable="/bin/zsh",
        args=("-zsh",),
        user="user",
        parent="Terminal",
        cwd="{home}",
        files=("{home}/.zsh_history", "{home}/.zsh_sessions/{rand}.history"),
        file_actions=("modification", "creation"),
    ),
    AppSpec(
        key="Safari",
        executable="/Applications/Safari.app/Contents/MacOS/Safari",
        args=("/Applications/Safari.app/Contents/MacOS/Safari",),
        user="user",
        parent="launchd",
        files=(
            "{home}/Library/Safari/History.db-wal",
            "{home}/Library/Safari/History.db-shm",
            "{home}/Library/Containers/com.apple.Safari/Data/Library/Caches/"
            "com.apple.Safari/Cache.db-wal",
            "{home}/Downloads/{rand}.pdf.download",
        ),
        file_actions=("modification", "modification", "creation", "deletion"),
    ),
    AppSpec(
        key="WebKitNetworking",
        executable=f"{_WEBKIT}/com.apple.WebKit.Networking.xpc/Contents/MacOS/"
        "com.apple.WebKit.Networking",
        args=(
            f"{_WEBKIT}/com.apple.WebKit.Networking.xpc/Contents/MacOS/com.apple.WebKit.Networking",
        ),
        user="user",
        parent="launchd",
        net=("https", "https", "apple"),
    ),
    AppSpec(
        key="Chrome",
        executable="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        args=("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",),
        user="user",
        parent="launchd",
        files=(
            "{home}/Library/Application Support/Google/Chrome/Default/History-journal",
            "{home}/Library/Application Support/Google/Chrome/Default/Cookies-journal",
            "{home}/Library/Application Support/Google/Chrome/Default/Session Storage/{rand}.log",
            "{home}/Library/Caches/Google/Chrome/Default/Cache/Cache_Data/f_{rand}",
        ),
        net=("https", "https", "proxy"),
    ),
    AppSpec(
        key="Slack",
        executable="/Applications/Slack.app/Contents/MacOS/Slack",
        args=("/Applications/Slack.app/Contents/MacOS/Slack",),
        user="user",
        parent="launchd",
        files=(
            "{home}/Library/Application Support/Slack/Cache/Cache_Data/f_{rand}",
            "{home}/Library/Application Support/Slack/IndexedDB/"
            "https_app.slack.com_0.indexeddb.leveldb/{rand}.log",
        ),
        net=("https",),
    ),
    AppSpec(
        key="CodeHelper",
        executable="/Applications/Visual Studio Code.app/Contents/Frameworks/"
        "Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)",
        args=(
            "/Applications/Visual Studio Code.app/Contents/Frameworks/"
            "Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)",
            "--type=utility",
        ),
        user="user",
        parent="launchd",
        cwd="{home}/src/webapp",
        files=(
            "{home}/src/webapp/.git/index.lock",
            "{home}/src/webapp/src/app.ts",
            "{home}/src/webapp/.vscode/settings.json",
            "{home}/src/webapp/.env.local",
        ),
        file_actions=("modification", "creation", "deletion", "overwrite"),
        net=("https", "git"),
    ),
    AppSpec(
        key="mds_stores",
        executable=f"{_SPOTLIGHT}/Versions/A/Support/mds_stores",
        args=(f"{_SPOTLIGHT}/Versions/A/Support/mds_stores",),
        user="root",
        parent="launchd",
        files=(
            "/private/var/db/Spotlight-V100/BootVolume/Store-V2/{rand}/live.0.indexHead",
            "/private/var/db/Spotlight-V100/BootVolume/Store-V2/{rand}/journalAttr.4",
        ),
        file_actions=("creation", "modification", "deletion", "rename"),
    ),
    AppSpec(
        key="cloudd",
        executable="/System/Library/PrivateFrameworks/CloudKitDaemon.framework/Support/cloudd",
        args=("/System/Library/PrivateFrameworks/CloudKitDaemon.framework/Support/cloudd",),
        user="user",
        parent="launchd",
        files=("{home}/Library/Caches/CloudKit/com.apple.cloudd/{rand}.db-wal",),
        net=("apple",),
    ),
    AppSpec(
        key="cfprefsd",
        executable="/usr/sbin/cfprefsd",
        args=("/usr/sbin/cfprefsd", "agent"),
        user="user",
        parent="launchd",
        files=(
            "{home}/Library/Preferences/com.apple.finder.plist",
            "{home}/Library/Preferences/.GlobalPreferences.plist",
            "{home}/Library/Preferences/com.apple.dock.plist",
            "{home}/Library/Preferences/com.microsoft.VSCode.plist",
        ),
        file_actions=("modification", "rename", "overwrite"),
    ),
    AppSpec(
        key="Finder",
        executable="/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder",
        args=("/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder",),
        user="user",
        parent="launchd",
        files=(
            "{home}/Desktop/.DS_Store",
            "{home}/Downloads/.DS_Store",
            "{home}/Documents/.DS_Store",
        ),
        file_actions=("modification", "creation"),
    ),
    AppSpec(
        key="softwareupdated",
        executable="/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/"
        "softwareupdated",
        args=(
            "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
        ),
        user="_softwareupdate",
        parent="launchd",
        files=("/Library/Updates/ProductMetadata.plist", "/Library/Updates/index.plist"),
        file_actions=("modification", "overwrite"),
        net=("apple",),
    ),
    AppSpec(
        key="keystone",
        executable=_KEYSTONE,
        args=(_KEYSTONE, "-runMode", "ifneeded"),
        user="user",
        parent="launchd",
        files=(
            "{home}/Library/LaunchAgents/com.google.keystone.agent.plist",
            "{home}/Library/LaunchAgents/com.google.keystone.xpcservice.plist",
            "{home}/Library/Google/GoogleSoftwareUpdate/TicketStore/Keystone.ticketstore",
        ),
        file_actions=("modification", "overwrite"),
        net=("https",),
    ),
    AppSpec(
        key="mDNSResponder",
        executable="/usr/sbin/mDNSResponder",
        args=("/usr/sbin/mDNSResponder",),
        user="_mdnsresponder",
        parent="launchd",
        net=("dns",),
    ),
)

_MDWORKER = f"{_SPOTLIGHT}/Versions/A/Support/mdworker_shared"
_XPROTECT = "/Library/Apple/System/Library/CoreServices/XProtect.app/Contents/MacOS/XProtect"

# Programs launchd starts on demand (parent launchd).
MAC_SERVICES: Final = (
    CommandSpec(
        executable=_MDWORKER,
        args=(
            _MDWORKER,
            "-s",
            "mdworker",
            "-c",
            "MDSImporterWorker",
            "-m",
            "com.apple.mdworker.shared",
        ),
        user="user",
        files=("{home}/Library/Metadata/CoreSpotlight/index.spotlightV3/{rand}.tmp",),
        file_actions=("creation", "deletion"),
        duration_ms=15000,
    ),
    CommandSpec(
        executable=_XPROTECT,
        args=(_XPROTECT,),
        files=("/private/var/protected/xprotect/XPdb-wal",),
        duration_ms=3000,
    ),
    CommandSpec(
        executable="/usr/libexec/periodic-wrapper",
        args=("/usr/libexec/periodic-wrapper", "daily"),
        duration_ms=5000,
        files=("/private/var/log/daily.out",),
        file_actions=("modification",),
    ),
    CommandSpec(
        executable="/usr/libexec/xpcproxy",
        args=("xpcproxy", "com.apple.mdworker.shared.0B000000-0000-0000-0000-000000000000"),
        duration_ms=20,
    ),
    CommandSpec(
        executable="/usr/sbin/systemstats",
        args=("/usr/sbin/systemstats", "--daemon"),
        files=("/private/var/db/systemstats/{rand}.stats",),
        duration_ms=800,
    ),
    CommandSpec(
        executable="/usr/bin/log",
        args=("/usr/bin/log", "collect", "--last", "1m"),
        duration_ms=1500,
    ),
)

# What the interactive user runs in zsh.
MAC_COMMANDS: Final = (
    CommandSpec(executable="/bin/ls", args=("ls", "-la"), duration_ms=15),
    CommandSpec(executable="/usr/bin/git", args=("git", "status"), duration_ms=60),
    CommandSpec(
        executable="/usr/bin/git",
        args=("git", "pull", "--rebase"),
        net=("git",),
        files=("{home}/src/webapp/.git/FETCH_HEAD", "{home}/src/webapp/.git/ORIG_HEAD"),
        duration_ms=1800,
    ),
    CommandSpec(executable="/usr/bin/grep", args=("grep", "-rn", "TODO", "src"), duration_ms=90),
    CommandSpec(
        executable="/opt/homebrew/bin/python3",
        args=("python3", "-m", "pytest", "-q"),
        duration_ms=6000,
        files=(
            "{home}/src/webapp/.pytest_cache/v/cache/lastfailed",
            "{home}/src/webapp/tests/__pycache__/test_api.cpython-312.pyc",
        ),
    ),
    CommandSpec(
        executable="/opt/homebrew/bin/brew",
        args=("brew", "update"),
        net=("https",),
        duration_ms=9000,
        files=("{home}/Library/Caches/Homebrew/api/formula.jws.json",),
    ),
    CommandSpec(
        executable="/usr/bin/curl",
        args=("curl", "-s", "https://api.internal.example/v1/health"),
        net=("https",),
        duration_ms=300,
    ),
    CommandSpec(
        executable="/usr/bin/ssh", args=("ssh", "admin@10.0.3.15"), net=("git",), duration_ms=60000
    ),
    CommandSpec(
        executable="/opt/homebrew/bin/node",
        args=("node", "scripts/build.js"),
        files=("{home}/src/webapp/dist/bundle.{rand}.js",),
        duration_ms=4000,
    ),
    CommandSpec(executable="/usr/bin/make", args=("make", "test"), duration_ms=7000),
    CommandSpec(executable="/bin/cat", args=("cat", "/etc/hosts"), duration_ms=5),
    CommandSpec(executable="/usr/local/bin/docker", args=("docker", "ps"), duration_ms=200),
    CommandSpec(
        executable="/usr/local/bin/kubectl",
        args=("kubectl", "get", "pods"),
        net=("https",),
        duration_ms=900,
    ),
    CommandSpec(
        executable="/usr/bin/vim",
        args=("vim", "README.md"),
        files=("{home}/src/webapp/.README.md.swp", "{home}/src/webapp/README.md"),
        file_actions=("creation", "modification", "deletion"),
        duration_ms=45000,
    ),
)
