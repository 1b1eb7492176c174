// certd's D-Bus API (org.certd1) as the page sees it, through the Cockpit bridge: one
// client, live copies of every object (ObjectManager InterfacesAdded/Removed and
// PropertiesChanged, never polling), the caller's rights, and the helpers every view
// needs to call a method and show certd's error next to the control that caused it.

import cockpit from "./cockpit.js";

export const ROOT = "/org/certd1";
export const IFACE = {
    manager: "org.certd1.Manager",
    certificate: "org.certd1.Certificate",
    request: "org.certd1.Request",
    key: "org.certd1.Key",
    address: "org.certd1.Address",
    acmeOrder: "org.certd1.AcmeOrder",
    acmeAccount: "org.certd1.AcmeAccount",
};

// The system bus: certd's home on an appliance. The demo and the tests run cockpit-ws
// with DBUS_SYSTEM_BUS_ADDRESS pointing at their private bus (see docs/web.md).
export const client = cockpit.dbus("org.certd1", { bus: "system" });

const KINDS = {
    certificates: IFACE.certificate,
    requests: IFACE.request,
    keys: IFACE.key,
    addresses: IFACE.address,
    acmeOrders: IFACE.acmeOrder,
    acmeAccounts: IFACE.acmeAccount,
};

// One immutable snapshot, replaced on every change, for React's useSyncExternalStore.
let snapshot = {
    loaded: false,
    problem: null, // the bridge or certd is unreachable: the text to show
    rights: null, // { manage, exportPrivateKey, uid } once known
    manager: {}, // Manager properties
    certificates: {}, // path -> properties
    requests: {},
    keys: {},
    addresses: {},
    acmeOrders: {},
    acmeAccounts: {},
    expiring: [], // CertificateExpiring signals received: { id, path, notAfterUSec, days }
};
const listeners = new Set();

function publish(changes) {
    snapshot = { ...snapshot, ...changes };
    for (const listener of listeners)
        listener();
}

export function subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
}

export function getSnapshot() {
    return snapshot;
}

function collect(proxies) {
    const out = {};
    for (const path of Object.keys(proxies)) {
        const proxy = proxies[path];
        if (path.startsWith("/") && proxy && proxy.valid)
            out[path] = { ...proxy.data, path };
    }
    return out;
}

let expiringSeq = 0;

export function dismissExpiring(id) {
    publish({ expiring: snapshot.expiring.filter(e => e.id !== id) });
}

function loadRights() {
    return client.call(ROOT, IFACE.manager, "GetCallerRights", [])
            .then(([rights]) => publish({
                rights: {
                    manage: !!rights.Manage?.v,
                    exportPrivateKey: !!rights.ExportPrivateKey?.v,
                    uid: rights.UnixUser?.v,
                }
            }))
            .catch(ex => {
                // Without an answer the page offers nothing that mutates.
                console.warn("GetCallerRights failed:", ex.message);
                publish({ rights: { manage: false, exportPrivateKey: false, uid: null } });
            });
}

export function start() {
    client.addEventListener("close", (event, options) => {
        publish({ problem: options.message || options.problem || "disconnected" });
    });
    client.addEventListener("owner", (event, owner) => {
        if (owner === null)
            publish({ problem: "certd (org.certd1) is not running on the system bus" });
        else if (snapshot.problem)
            publish({ problem: null });
        if (owner)
            loadRights();
    });

    const waits = Object.entries(KINDS).map(([kind, iface]) => {
        const proxies = client.proxies(iface, ROOT);
        const update = () => publish({ [kind]: collect(proxies) });
        proxies.addEventListener("added", update);
        proxies.addEventListener("changed", update);
        proxies.addEventListener("removed", update);
        return proxies.wait().then(update);
    });

    const manager = client.proxy(IFACE.manager, ROOT);
    const updateManager = () => publish({ manager: { ...manager.data } });
    manager.addEventListener("changed", updateManager);
    waits.push(manager.wait().then(updateManager));

    client.subscribe({ path: ROOT, interface: IFACE.manager, member: "CertificateExpiring" },
                     (path, iface, signal, [certificate, notAfterUSec, days]) => {
                         expiringSeq += 1;
                         publish({
                             expiring: [...snapshot.expiring,
                                 { id: expiringSeq, path: certificate, notAfterUSec, days }]
                         });
                     });

    Promise.all(waits).then(() => publish({ loaded: true }), ex => publish({ problem: ex.message, loaded: true }));
    loadRights();
}

// A method call; resolves to the reply's arguments, rejects with { name, message }.
export function call(path, iface, method, args) {
    return new Promise((resolve, reject) => {
        client.call(path, iface, method, args).then(resolve, reject);
    });
}

export function callManager(method, args) {
    return call(ROOT, IFACE.manager, method, args);
}

export function getProperty(path, iface, name) {
    return call(path, "org.freedesktop.DBus.Properties", "Get", [iface, name]).then(([v]) => v.v);
}

export const variant = (t, v) => ({ t, v });

// "org.certd1.Error.InvalidArgument" -> "InvalidArgument"
export function errorName(ex) {
    const name = (ex && ex.name) || "";
    return name.startsWith("org.certd1.Error.") ? name.substring("org.certd1.Error.".length) : name;
}

// certd's InvalidArgument messages start with the argument or spec key they are about
// ("country: 'XX' is not an ISO 3166 alpha-2 country code"): the field to show it on.
export function errorField(ex) {
    if (errorName(ex) !== "InvalidArgument")
        return null;
    const m = /^([a-z_]+): /.exec(ex.message || "");
    return m ? m[1] : null;
}

// What a user reads: certd's own message, with the error's name for the record.
export function errorText(ex) {
    const name = errorName(ex);
    const message = (ex && ex.message) || String(ex);
    return name ? `${message} (${name})` : message;
}

export function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000)
        binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return window.btoa(binary);
}

export function fromBase64(text) {
    const binary = window.atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++)
        bytes[i] = binary.charCodeAt(i);
    return bytes;
}

// Saves bytes as a file through the browser's download.
export function download(filename, data, type) {
    const blob = new Blob([data], { type: type || "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// A file name from a friendly name: letters, digits, dot, dash and underscore.
export function fileStem(name) {
    const stem = (name || "certificate").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "");
    return stem || "certificate";
}

export const idOf = path => path.substring(path.lastIndexOf("/") + 1);
