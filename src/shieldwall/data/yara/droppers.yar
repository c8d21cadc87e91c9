/*
 * Droppers: scripts that fetch or decode a payload and run it.
 */

rule Shieldwall_Dropper_Download_Chmod_Exec
{
    meta:
        id = "dropper-download-chmod-exec"
        title = "Dropper: download to a temporary directory, make executable, run"
        severity = "HIGH"
        description = "curl or wget writes a file under /tmp, /var/tmp or /dev/shm, chmod makes it executable and it is run: the staging pattern of miners and botnet loaders. Some installers do the same; check where the download comes from."
        reference = "https://attack.mitre.org/techniques/T1105/"

    strings:
        $oneliner = /\b(curl|wget)\s[^\n]{0,250}(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\n]{0,250}chmod\s+(\+x|[ugoa]*\+[rw]*x|[0-7]?[0-7][157][157])\s[^\n]{0,250}(\.\/|\/tmp\/|\/var\/tmp\/|\/dev\/shm\/)[^\s;&|]+/
        $dl = /\b(curl|wget)\s[^\n]{0,250}(-o\s*|-O\s*|--output[= ]|--output-document[= ]|>\s*)["']?(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\s"';&|]+/
        $chmod = /chmod\s+(\+x|[ugoa]*\+[rw]*x|[0-7]?[0-7][157][157])\s+["']?(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\s"';&|]+/
        $run = /(^|[;&|(\n]\s*|\bnohup\s+|\bexec\s+)["']?(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\s"';&|]+/

    condition:
        $oneliner or (filesize < 64KB and $dl and $chmod and $run)
}

rule Shieldwall_Dropper_Base64_Pipe_Shell
{
    meta:
        id = "dropper-base64-pipe-shell"
        title = "Dropper: base64-decoded payload piped to a shell"
        severity = "HIGH"
        description = "A base64 blob is decoded and piped straight into sh/bash (echo ... | base64 -d | bash): a payload hidden from a casual reader."
        reference = "https://attack.mitre.org/techniques/T1140/"

    strings:
        $pipe = /\bbase64\s+(-d|--decode|-di|-id|-D)\b[^\n|]{0,80}\|\s*(sudo\s+)?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/
        $here = /\b(ba|z|k|da)?sh\s+(-c\s+)?["']?\$\(\s*(echo|printf)\s[^\n]{0,4000}\|\s*base64\s+(-d|--decode)/

    condition:
        any of them
}

rule Shieldwall_Dropper_Remote_Ip_Pipe_Shell
{
    meta:
        id = "dropper-remote-ip-pipe-shell"
        title = "Dropper: script from a bare IP address piped to a shell"
        severity = "HIGH"
        description = "curl or wget fetches a script from a literal IP address and pipes it into a shell. Installers use domain names; loaders use bare IPs."
        reference = "https://attack.mitre.org/techniques/T1105/"

    strings:
        $pipe = /\b(curl|wget)\s[^\n|]{0,200}https?:\/\/[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?\/?[^\s|]*[^\n|]{0,80}\|\s*(sudo\s+)?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/

    condition:
        $pipe
}

rule Shieldwall_Dropper_Python_Exec_Base64
{
    meta:
        id = "dropper-python-exec-base64"
        title = "Python executing a base64-decoded payload"
        severity = "HIGH"
        description = "Python code runs exec() on the output of base64.b64decode (optionally zlib-decompressed): the wrapper of obfuscated droppers, including malicious packages' setup.py."
        reference = "https://attack.mitre.org/techniques/T1027/"

    strings:
        $exec = /\bexec\s*\(\s*(compile\s*\(\s*)?(zlib\.decompress\s*\(\s*|marshal\.loads\s*\(\s*)?(base64\.(b64decode|b32decode|b16decode|a85decode|b85decode)|__import__\s*\(\s*["']base64["']\s*\)\s*\.\s*b64decode)\s*\(/

    condition:
        $exec
}
