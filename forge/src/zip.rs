//! A minimal ZIP writer (stored entries, no compression): the archive GitHub serves for a
//! workflow run's logs, which `gh run view --log` and `--log-failed` read.

/// CRC-32 (IEEE 802.3, reflected), as ZIP records it per entry.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, slot) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// An archive of `(name, contents)` entries, in order. Names are UTF-8 (flag bit 11).
pub fn archive(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    const UTF8: u16 = 0x0800;
    // 1980-01-01 00:00, the earliest DOS date: the logs are timeless fixtures.
    const DATE: u16 = 0x21;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let (size, name_len) = (data.len() as u32, name.len() as u16);
        let put16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
        let put32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
        put32(&mut out, 0x0403_4b50);
        for x in [20, UTF8, 0, 0, DATE] {
            put16(&mut out, x);
        }
        for x in [crc, size, size] {
            put32(&mut out, x);
        }
        put16(&mut out, name_len);
        put16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        put32(&mut central, 0x0201_4b50);
        for x in [20, 20, UTF8, 0, 0, DATE] {
            put16(&mut central, x);
        }
        for x in [crc, size, size] {
            put32(&mut central, x);
        }
        for x in [name_len, 0, 0, 0, 0] {
            put16(&mut central, x);
        }
        put32(&mut central, 0);
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for x in [0u16, 0, n, n] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn unzip_reads_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.zip");
        let entries = vec![
            ("test/1_Set up job.txt".to_owned(), b"one\n".to_vec()),
            ("0_test.txt".to_owned(), b"two\nlines\n".to_vec()),
        ];
        std::fs::write(&path, archive(&entries)).unwrap();
        // Python's zipfile as an independent reader (present wherever the tests run).
        #[allow(clippy::disallowed_methods)]
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.testzip(); \
                 print('|'.join(n + '=' + z.read(n).decode() for n in z.namelist()))",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            "test/1_Set up job.txt=one\n|0_test.txt=two\nlines"
        );
    }
}
