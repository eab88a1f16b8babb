"""Raw inputs recorded from real hosts: registry values under
HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion, sys.getwindowsversion() and Docker
``/info`` (trimmed to the fields Mixfleet reads, plus a few it must ignore)."""

from __future__ import annotations

from mixfleet.nodeagent.facts.windows import WinVer

SERVER_2019_CORE = {
    "winver": WinVer(10, 0, 17763, 3),
    "registry": {
        "CurrentBuildNumber": "17763",
        "UBR": 6189,
        "ProductName": "Windows Server 2019 Datacenter",
        "EditionID": "ServerDatacenter",
        "InstallationType": "Server Core",
        "ReleaseId": "1809",
    },
    "docker_info": {
        "ID": "3f7b0d5c-5b9f-4c1e-9b0f-6c2f1b6d1e2a",
        "Containers": 2,
        "Driver": "windowsfilter",
        "KernelVersion": "10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)",
        "OperatingSystem": "Windows Server 2019 Datacenter Version 1809 (OS Build 17763.6189)",
        "OSVersion": "10.0.17763",
        "OSType": "windows",
        "Architecture": "x86_64",
        "NCPU": 4,
        "MemTotal": 17179398144,
        "Name": "WIN-2019-A",
        "ServerVersion": "20.10.9",
        "Isolation": "process",
        "Runtimes": {},
        "DefaultRuntime": "",
    },
}
SERVER_2022 = {
    "winver": WinVer(10, 0, 20348, 3),
    "registry": {
        "CurrentBuildNumber": "20348",
        "CurrentBuild": "20348",
        "UBR": 2655,
        "ProductName": "Windows Server 2022 Datacenter",
        "EditionID": "ServerDatacenter",
        "InstallationType": "Server",
        "DisplayVersion": "21H2",
    },
    "docker_info": {
        "ID": "a1c2e3f4-0000-4000-8000-20348a0b0c0d",
        "Containers": 7,
        "Driver": "windowsfilter",
        "KernelVersion": "10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)",
        "OperatingSystem": "Windows Server 2022 Datacenter Version 2009 (OS Build 20348.2655)",
        "OSVersion": "10.0.20348",
        "OSType": "windows",
        "Architecture": "x86_64",
        "NCPU": 8,
        "MemTotal": 34359267328,
        "Name": "WIN-2022-A",
        "ServerVersion": "24.0.7",
        "Isolation": "process",
    },
}
SERVER_2025 = {
    "winver": WinVer(10, 0, 26100, 3),
    "registry": {
        "CurrentBuildNumber": "26100",
        "UBR": 2314,
        "ProductName": "Windows Server 2025 Datacenter",
        "EditionID": "ServerDatacenter",
        "InstallationType": "Server",
        "DisplayVersion": "24H2",
    },
    "docker_info": {
        "KernelVersion": "10.0 26100 (26100.1.amd64fre.ge_release.240331-1435)",
        "OperatingSystem": "Windows Server 2025 Datacenter Version 24H2 (OS Build 26100.2314)",
        "OSVersion": "10.0.26100",
        "OSType": "windows",
        "Architecture": "x86_64",
        "NCPU": 16,
        "MemTotal": 68718940160,
        "Name": "WIN-2025-A",
        "ServerVersion": "27.3.1",
        "Isolation": "process",
    },
}
# Windows 11 still calls itself "Windows 10" in ProductName (and so in Docker's OperatingSystem).
WINDOWS_11 = {
    "winver": WinVer(10, 0, 22631, 1),
    "registry": {
        "CurrentBuildNumber": "22631",
        "UBR": 4460,
        "ProductName": "Windows 10 Pro",
        "EditionID": "Professional",
        "InstallationType": "Client",
        "DisplayVersion": "23H2",
    },
    "docker_info": {
        "KernelVersion": "10.0 22631 (22631.1.amd64fre.ni_release.220506-1250)",
        "OperatingSystem": "Windows 10 Pro Version 23H2 (OS Build 22631.4460)",
        "OSVersion": "10.0.22631",
        "OSType": "windows",
        "Architecture": "x86_64",
        "NCPU": 12,
        "MemTotal": 33992552448,
        "Name": "DEV-LAPTOP",
        "ServerVersion": "27.3.1",
        "Isolation": "hyperv",
    },
}
LINUX_DOCKER_INFO = {
    "KernelVersion": "6.1.0-18-amd64",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "OSVersion": "12",
    "OSType": "linux",
    "Architecture": "x86_64",
    "NCPU": 2,
    "MemTotal": 8341037056,
    "Name": "lin-a",
    "ServerVersion": "20.10.24+dfsg1",
}
WINDOWS_IMAGE_INSPECT = {
    "Id": "sha256:9b2ea2c5f1a1",
    "RepoTags": ["mcr.microsoft.com/windows/servercore:ltsc2022"],
    "Architecture": "amd64",
    "Os": "windows",
    "OsVersion": "10.0.20348.2655",
    "Size": 5368709120,
}
MEMINFO = "MemTotal:        8145544 kB\nMemFree:         1234567 kB\nMemAvailable:    5000000 kB\n"
OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
)
