/*
 * Anti-virus test files. They are harmless by design and exist so that a
 * detection chain can be proven end to end; they are reported like malware.
 * The strings are hex so this file is not itself flagged by scanners.
 */

rule Shieldwall_EICAR_Test_File
{
    meta:
        id = "eicar-test-file"
        title = "EICAR anti-virus test file"
        severity = "HIGH"
        description = "The EICAR standard anti-virus test file: the 68-byte test string at the start of a file of at most 128 bytes, as the EICAR specification defines it."
        reference = "https://www.eicar.org/download-anti-malware-testfile/"

    strings:
        // X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*
        $eicar = {
            58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43 29 37 7D 24
            45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56 49 52 55 53 2D 54 45 53
            54 2D 46 49 4C 45 21 24 48 2B 48 2A
        }

    condition:
        $eicar at 0 and filesize <= 128
}

rule Shieldwall_ClamAV_Test_File
{
    meta:
        id = "clamav-test-file"
        title = "ClamAV test file"
        severity = "HIGH"
        description = "The harmless clam.exe test program shipped with ClamAV (clamav-testfiles), which ClamAV reports as Clamav.Test.File: a tiny PE whose import table names CLAMessageBoxA and whose header carries the [CLAMAV] marker. Found here so archive and container handling can be tested with the real test files."
        reference = "https://docs.clamav.net/manual/Usage/Scanning.html#testing"

    strings:
        $import = "CLAMessageBoxA"
        $marker = "[CLAMAV]"

    condition:
        uint16(0) == 0x5A4D and filesize < 4KB and $import and $marker
}
