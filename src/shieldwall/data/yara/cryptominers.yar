/*
 * Cryptocurrency miners: the binaries (XMRig and its forks), their JSON
 * configs, and pool addresses in scripts and command lines.
 */

rule Shieldwall_Miner_XMRig_Binary
{
    meta:
        id = "cryptominer-xmrig-binary"
        title = "XMRig cryptocurrency miner"
        severity = "HIGH"
        description = "An executable that carries XMRig's identity strings together with its mining options (donate-level, RandomX/CryptoNight algorithms, stratum pool URLs)."
        reference = "https://attack.mitre.org/techniques/T1496/"

    strings:
        $name1 = "xmrig" nocase
        $name2 = "XMRig/" ascii
        $opt1 = "donate-level" ascii
        $opt2 = "randomx" nocase
        $opt3 = "cryptonight" nocase
        $opt4 = "stratum+tcp://" ascii
        $opt5 = "stratum+ssl://" ascii
        $opt6 = "--max-cpu-usage" ascii
        $opt7 = "nicehash" nocase

    condition:
        (uint32(0) == 0x464C457F or uint16(0) == 0x5A4D or uint32(0) == 0xFEEDFACF or uint32(0) == 0xCFFAEDFE)
        and ($name1 or $name2) and 2 of ($opt*)
}

rule Shieldwall_Miner_Config
{
    meta:
        id = "cryptominer-config"
        title = "Cryptocurrency miner configuration"
        severity = "HIGH"
        description = "A JSON miner configuration (XMRig style): a pools list with pool URLs and wallet users, plus donate-level or the cpu/randomx sections."
        reference = "https://xmrig.com/docs/miner/config"

    strings:
        $pools = /"pools"\s*:\s*\[/
        $url = /"url"\s*:\s*"[^"]{1,200}:[0-9]{2,5}"/
        $donate = /"donate-level"\s*:\s*[0-9]/
        $donate2 = /"donate-over-proxy"\s*:/
        $randomx = /"randomx"\s*:\s*\{/
        $algo = /"(algo|coin)"\s*:\s*"(rx\/|cn\/|cryptonight|randomx|monero|xmr|kawpow|ethash|etchash|ghostrider)/ nocase

    condition:
        filesize < 1MB and $pools and $url and ($donate or $donate2 or $randomx or $algo)
}

rule Shieldwall_Miner_Stratum_Url
{
    meta:
        id = "cryptominer-stratum-url"
        title = "Mining pool address (stratum URL)"
        severity = "MEDIUM"
        description = "A stratum+tcp / stratum+ssl URL: the protocol miners use to talk to a mining pool. Outside mining software it points at a planted miner."
        reference = "https://attack.mitre.org/techniques/T1496/"

    strings:
        $stratum = /stratum(1|2)?\+(tcp|ssl|tls):\/\/[a-z0-9.\-]{3,253}:[0-9]{2,5}/ nocase

    condition:
        $stratum
}

rule Shieldwall_Miner_Known_Pool
{
    meta:
        id = "cryptominer-known-pool"
        title = "Address of a well-known mining pool"
        severity = "MEDIUM"
        description = "host:port of a public mining pool (supportxmr, moneroocean, nanopool, c3pool, hashvault, 2miners, f2pool, herominers, unmineable, nicehash, minexmr...). A bare domain name is not enough (blocklists list them): the port must follow."
        reference = "https://attack.mitre.org/techniques/T1496/"

    strings:
        $pool = /\b([a-z0-9\-]{1,63}\.){0,3}(minexmr\.com|supportxmr\.com|nanopool\.org|moneroocean\.stream|hashvault\.pro|2miners\.com|f2pool\.com|c3pool\.com|xmrpool\.eu|herominers\.com|unmineable\.com|nicehash\.com|minergate\.com|ethermine\.org|monerohash\.com|xmrfast\.com|miningpoolhub\.com|viabtc\.com|antpool\.com|dxpool\.net|kryptex\.network):[0-9]{2,5}\b/ nocase

    condition:
        $pool
}
