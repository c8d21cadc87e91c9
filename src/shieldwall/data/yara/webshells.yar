/*
 * Web shells: server-side scripts that run what an HTTP request tells them to.
 */

rule Shieldwall_Webshell_PHP_Request_Exec
{
    meta:
        id = "webshell-php-request-exec"
        title = "PHP web shell: request input passed to eval or a command function"
        severity = "CRITICAL"
        description = "PHP code hands a request parameter ($_GET, $_POST, $_REQUEST, $_COOKIE) straight to eval, assert, system, exec, shell_exec, passthru, popen, proc_open or pcntl_exec: whoever can send a request runs code on the server."
        reference = "https://attack.mitre.org/techniques/T1505/003/"

    strings:
        $php = "<?" ascii
        $call = /\b(eval|assert|system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec|create_function)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*|base64_decode\s*\(\s*|trim\s*\(\s*|urldecode\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER\s*\[\s*['"]HTTP_)/ nocase
        $backtick = /`\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*`/

    condition:
        $php and ($call or $backtick)
}

rule Shieldwall_Webshell_PHP_Obfuscated_Eval
{
    meta:
        id = "webshell-php-obfuscated-eval"
        title = "PHP code evaluating a decoded payload"
        severity = "HIGH"
        description = "PHP code calls eval or assert on the output of base64_decode, gzinflate, gzuncompress, gzdecode or str_rot13: the usual wrapper of obfuscated web shells and injected backdoors."
        reference = "https://attack.mitre.org/techniques/T1027/"

    strings:
        $php = "<?" ascii
        $eval = /\b(eval|assert)\s*\(\s*(@\s*)?(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|convert_uudecode|hex2bin)\s*\(/ nocase
        $preg_e = /preg_replace\s*\(\s*["']\/[^"'\n]{0,100}\/[a-df-z]*e[a-z]*["']\s*,[^;]{0,200}\$_(GET|POST|REQUEST|COOKIE)/ nocase

    condition:
        $php and ($eval or $preg_e)
}

rule Shieldwall_Webshell_China_Chopper
{
    meta:
        id = "webshell-china-chopper"
        title = "China Chopper web shell"
        severity = "CRITICAL"
        description = "The one-line China Chopper server stub: an ASPX page evaluating Request.Item[...] with the \"unsafe\" flag, or a tiny PHP page evaluating a POST field."
        reference = "https://www.cisa.gov/news-events/alerts/2018/10/11/publicly-available-tools-seen-cyber-incidents-worldwide"

    strings:
        $aspx = /<%@\s*Page\s+Language\s*=\s*"?Jscript"?\s*%>\s*<%\s*eval\s*\(\s*Request(\.Item)?\s*\[[^\]]{1,64}\]\s*,\s*"unsafe"\s*\)/ nocase
        $aspx_loose = /eval\s*\(\s*Request(\.Item|\.Form)?\s*\[[^\]]{1,64}\]\s*,\s*"unsafe"\s*\)/ nocase
        $php = /<\?php\s+@?eval\s*\(\s*\$_POST\s*\[[^\]]{1,64}\]\s*\)\s*;?\s*\?>/ nocase

    condition:
        filesize < 4KB and any of them
}

rule Shieldwall_Webshell_JSP
{
    meta:
        id = "webshell-jsp"
        title = "JSP web shell: request parameter run as a command"
        severity = "CRITICAL"
        description = "A JSP page passes request.getParameter(...) to Runtime.exec or a ProcessBuilder: a command shell behind an HTTP endpoint."
        reference = "https://attack.mitre.org/techniques/T1505/003/"

    strings:
        $jsp = "<%" ascii
        $rt = /Runtime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(\s*request\s*\.\s*getParameter\s*\(/
        $pb = /new\s+ProcessBuilder\s*\([^;]{0,120}request\s*\.\s*getParameter\s*\(/
        $rt_var = /Runtime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(/
        $param = /String\s+\w+\s*=\s*request\s*\.\s*getParameter\s*\(/
        $stream = /getInputStream\s*\(\s*\)/

    condition:
        $jsp and ($rt or $pb or ($rt_var and $param and $stream and filesize < 64KB))
}

rule Shieldwall_Webshell_ASPX
{
    meta:
        id = "webshell-aspx"
        title = "ASP.NET web shell: request input run through cmd.exe or PowerShell"
        severity = "CRITICAL"
        description = "An ASPX page starts cmd.exe or powershell.exe with arguments taken from Request[...], Request.Form or Request.QueryString."
        reference = "https://attack.mitre.org/techniques/T1505/003/"

    strings:
        $page = /<%@\s*Page/ nocase
        $runat = /runat\s*=\s*"?server"?/ nocase
        $proc = /(Process\s*\.\s*Start\s*\(|new\s+ProcessStartInfo\s*\(|\.StartInfo\s*\.\s*FileName)/
        $shell = /(cmd\.exe|powershell(\.exe)?)/ nocase
        $req = /Request\s*(\.\s*(Form|QueryString|Params|Item))?\s*\[/

    condition:
        ($page or $runat) and $proc and $shell and $req
}
