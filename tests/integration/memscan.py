#!/usr/bin/env python3
"""Searches a process's memory for the secret values of private keys (issue 13: key custody).

  memscan.py --pid PID --key-pem FILE [--key-pem FILE ...] [--literal STRING ...]
             [--exclude-secure-heap]

Reads every readable mapping of PID (/proc/PID/maps, /proc/PID/mem; root) and counts where each
key's secret values appear: an EC key's private scalar (big-endian, the curve's width), an RSA
key's d, p and q (big-endian, minimal), an Ed25519/Ed448 key's seed; each also byte-reversed
("le": a BIGNUM's limbs on a little-endian 64-bit machine hold the number least significant
byte first). Besides each whole value it looks for 16-byte pieces from its start, middle and
end, so that a partial copy is found too. --literal adds a string (a passphrase).
--exclude-secure-heap skips mappings whose smaps VmFlags carry "dd" (MADV_DONTDUMP: OpenSSL's
secure heap, where certd keeps keys on purpose), printing each one skipped. Mappings with no
resident page are skipped (nothing to read); mappings over 4 GiB (AddressSanitizer's shadow)
are skipped with a note.

Prints "HIT key=FILE value=NAME form=FORM mapping=NAME addr=0x..." per hit and "TOTAL n".
Exit status: 0 no hit, 1 hits, 2 usage or read error.
"""
import argparse
import re
import subprocess
import sys

PIECE = 16
HUGE = 4 << 30


def secrets_of(pem):
    """[(name, big-endian bytes)] of the key in PEM file `pem`, from `openssl pkey -text`."""
    text = subprocess.run(["openssl", "pkey", "-in", pem, "-text", "-noout"], check=True,
                          capture_output=True, text=True).stdout
    fields = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9]+):\s*$", line)
        if m:
            current = m.group(1)
            fields[current] = ""
        elif current and re.match(r"^\s+[0-9a-f:]+$", line):
            fields[current] += line.strip().replace(":", "")
        else:
            current = None
    header = text.splitlines()[0]
    width = re.search(r"\((\d+) bit", header)
    out = []
    if "privateExponent" in fields:  # RSA
        for name in ("privateExponent", "prime1", "prime2"):
            n = int(fields[name], 16)
            out.append((name, n.to_bytes((n.bit_length() + 7) // 8, "big")))
    elif "priv" in fields:
        raw = bytes.fromhex(fields["priv"])
        if header.startswith("ED") or "ED25519" in header.upper() or "ED448" in header.upper():
            out.append(("seed", raw))  # Ed25519/Ed448: the 32/57-byte seed as is
        else:  # EC: the scalar, at the width of the curve
            size = (int(width.group(1)) + 7) // 8 if width else len(raw.lstrip(b"\0"))
            n = int.from_bytes(raw, "big")
            out.append(("scalar", n.to_bytes(size, "big")))
    if not out:
        raise SystemExit(f"memscan: no private values found in {pem}")
    return out


def needles(args):
    """[(key, value name, form, bytes)]: whole values and pieces, both byte orders."""
    result = []
    for pem in args.key_pem:
        for name, be in secrets_of(pem):
            for form, data in (("be", be), ("le", be[::-1])):
                result.append((pem, name, form, data))
                if len(data) > 2 * PIECE:
                    mid = len(data) // 2 - PIECE // 2
                    for where, start in (("start", 0), ("mid", mid), ("end", len(data) - PIECE)):
                        result.append((pem, name, f"{form}-{where}{PIECE}", data[start:start + PIECE]))
    for literal in args.literal:
        result.append(("literal", literal, "utf8", literal.encode()))
    return result


def mappings(pid):
    """[(start, end, name, dontdump, resident kB)] of the readable mappings."""
    out = []
    entry = None
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                if entry:
                    out.append(entry)
                start, end, perms, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)
                entry = [start, end, name or "[anon]", False, 0] if perms[0] == "r" else None
            elif entry and line.startswith("Rss:"):
                entry[4] = int(line.split()[1])
            elif entry and line.startswith("VmFlags:"):
                entry[3] = "dd" in line.split()[1:]
    if entry:
        out.append(entry)
    return out


def main():
    parser = argparse.ArgumentParser(add_help=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--key-pem", action="append", default=[])
    parser.add_argument("--literal", action="append", default=[])
    parser.add_argument("--exclude-secure-heap", action="store_true")
    try:
        args = parser.parse_args()
    except SystemExit:
        return 2
    if not args.key_pem and not args.literal:
        print("memscan: nothing to look for", file=sys.stderr)
        return 2
    wanted = needles(args)
    total = 0
    scanned = 0
    with open(f"/proc/{args.pid}/mem", "rb", buffering=0) as mem:
        for start, end, name, dontdump, rss in mappings(args.pid):
            if rss == 0:
                continue
            if args.exclude_secure_heap and dontdump:
                print(f"excluded {name} 0x{start:x}-0x{end:x} ({(end - start) >> 10} kB, MADV_DONTDUMP)")
                continue
            if end - start > HUGE:
                print(f"skipped {name} 0x{start:x}-0x{end:x} ({(end - start) >> 30} GiB: reserved, not scanned)")
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue  # [vvar] and the like
            scanned += len(data)
            for key, value, form, needle in wanted:
                at = data.find(needle)
                while at >= 0:
                    total += 1
                    print(f"HIT key={key} value={value} form={form} mapping={name} addr=0x{start + at:x}")
                    at = data.find(needle, at + 1)
    print(f"scanned {scanned >> 10} kB of pid {args.pid} for {len(wanted)} byte strings")
    print(f"TOTAL {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
