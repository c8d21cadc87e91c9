/*
 * Executable packers. Packing is not malicious in itself, but it hides code
 * from scanners and is common in malware dropped into containers.
 */

rule Shieldwall_Packer_UPX_ELF
{
    meta:
        id = "packer-upx-elf"
        title = "UPX-packed ELF executable"
        severity = "LOW"
        description = "A Linux ELF binary compressed with UPX (the UPX! header and the UPX packer notice). Legitimate tools are sometimes packed this way, but most packed binaries found in images are miners or malware hiding from scanners."
        reference = "https://attack.mitre.org/techniques/T1027/002/"

    strings:
        $magic = "UPX!" ascii
        $info = "This file is packed with the UPX executable packer" ascii

    condition:
        uint32(0) == 0x464C457F and $magic in (0..1024) and ($info or #magic >= 2)
}

rule Shieldwall_Packer_UPX_PE
{
    meta:
        id = "packer-upx-pe"
        title = "UPX-packed Windows executable"
        severity = "LOW"
        description = "A PE executable with UPX's section names (UPX0, UPX1) in its section table."
        reference = "https://attack.mitre.org/techniques/T1027/002/"

    strings:
        $upx0 = { 55 50 58 30 00 00 00 00 }
        $upx1 = { 55 50 58 31 00 00 00 00 }

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550
        and $upx0 in (0..4096) and $upx1 in (0..4096)
}

rule Shieldwall_Packer_ASPack_PE
{
    meta:
        id = "packer-aspack-pe"
        title = "ASPack-packed Windows executable"
        severity = "LOW"
        description = "A PE executable with ASPack's .aspack and .adata sections."
        reference = "https://attack.mitre.org/techniques/T1027/002/"

    strings:
        $aspack = { 2E 61 73 70 61 63 6B 00 }
        $adata = { 2E 61 64 61 74 61 00 00 }

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550
        and $aspack in (0..4096) and $adata in (0..4096)
}
