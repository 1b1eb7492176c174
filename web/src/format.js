// How values from certd read on the page.

// Microseconds since the epoch -> "2026-03-01 12:00 UTC" (UTC: the same on every
// appliance and in every browser).
export function formatTime(usec) {
    if (!usec)
        return "—";
    const d = new Date(Math.floor(usec / 1000));
    return d.toISOString().substring(0, 16).replace("T", " ") + " UTC";
}

export function formatDate(usec) {
    if (!usec)
        return "—";
    return new Date(Math.floor(usec / 1000)).toISOString().substring(0, 10);
}

// Whole days from now until usec (negative when past).
export function daysUntil(usec, now = Date.now()) {
    return Math.floor((usec / 1000 - now) / 86400000);
}

export function formatDuration(usec) {
    let s = Math.floor(usec / 1e6);
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const parts = [];
    if (d)
        parts.push(`${d} day${d === 1 ? "" : "s"}`);
    if (h || d)
        parts.push(`${h} h`);
    parts.push(`${m} min`);
    if (!d)
        parts.push(`${s} s`);
    return parts.join(" ");
}

// a(ss) subject alternative names -> "DNS:www.example.com, IP:192.0.2.1"
export function formatSans(sans) {
    return (sans || []).map(([type, value]) => `${type}:${value}`).join(", ");
}

// Labels of the key types certd lists in the Manager's KeyTypes property; a type this page does
// not know yet is offered under its own name.
const KEY_TYPE_LABELS = {
    rsa2048: "RSA 2048 bits",
    rsa3072: "RSA 3072 bits",
    rsa4096: "RSA 4096 bits",
    "ec-p256": "ECDSA P-256",
    "ec-p384": "ECDSA P-384",
    ed25519: "Ed25519 (only clients that offer it)",
    ed448: "Ed448 (only clients that offer it)",
};

export function keyTypeOptions(names) {
    return (names || []).map(name => [name, KEY_TYPE_LABELS[name] || name]);
}

export const EXPORT_FORMATS = [
    ["auto", "Automatic (DER, PKCS#8, PKCS#7 or PKCS#12, by what is included)"],
    ["der", "DER (one certificate)"],
    ["pem", "PEM (certificates, then the key)"],
    ["pkcs7", "PKCS#7 (certificates)"],
    ["pkcs8", "PKCS#8 (the key)"],
    ["pkcs12", "PKCS#12 (certificate, key and chain)"],
];

// The file extension for an export, following certd's "auto" rule for auto.
export function exportExtension(format, { certificate, key, chain }) {
    if (format === "auto") {
        if (certificate && key)
            format = "pkcs12";
        else if (key)
            format = "pkcs8";
        else if (chain)
            format = "pkcs7";
        else
            format = "der";
    }
    return { der: "der", pem: "pem", pkcs7: "p7b", pkcs8: "p8", pkcs12: "p12" }[format] || "bin";
}
