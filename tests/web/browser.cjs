// The Cockpit page in a real browser (Debian's chromium, headless, driven over the
// DevTools protocol by puppeteer-core) against the real cockpit-ws, cockpit-bridge and
// certd that web.sh started. Each scenario is one meson test:
//   csr_workflow   create a CSR (a validation error first), take its request data, sign it
//                  with an openssl CA, upload the signed file, tick 127.0.0.2, save; a
//                  manual chain (a wrong one first); openssl s_client then sees the new
//                  certificate on 127.0.0.2
//   import_export  PKCS#12 upload (no passphrase, a wrong one, the right one); export with
//                  the key that openssl pkcs12 reads; CertificateExpiring on the page;
//                  certd's InUse next to Delete
//   live           changes made by certctl appear without a reload
//   acme           an ACME order from the page against pebble (Let's Encrypt's test CA, real
//                  validation on loopback): certd's InvalidArgument under the directory field
//                  first, then valid live, served and verified by openssl s_client; Renew
//                  brings a new certificate; Delete keeps the certificates
//   viewer         a non-admin session sees the tables (an ACME order failing with certd's
//                  error too) and no mutating control
// Every wait is for a DOM condition, a download event or a process, bounded by TIMEOUT.
"use strict";

const puppeteer = require("puppeteer-core");
const { execFileSync, spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const TIMEOUT = 60000;
const env = process.env;
const WORK = env.WORK;
const PAGE = "cockpit/@localhost/certd/index.html";

function run(command, args, options = {}) {
    try {
        return execFileSync(command, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: TIMEOUT, ...options });
    } catch (e) {
        e.message += `\n${e.stdout || ""}${e.stderr || ""}`; // what the command said, for the report
        throw e;
    }
}
const certctl = (...args) => run(env.CERTCTL, args);
const openssl = (...args) => run("openssl", args);
const file = name => path.join(WORK, name);

function check(condition, message) {
    if (!condition)
        throw new Error(message);
}

let stepNumber = 0;
let current = null; // the open Session, for a screenshot when a step fails
async function step(name, body) {
    const started = Date.now();
    stepNumber += 1;
    try {
        await body();
    } catch (e) {
        e.message = `step "${name}": ${e.message}`;
        if (current)
            await current.screenshot(`failed-${stepNumber}`).catch(() => {});
        throw e;
    }
    console.log(`ok ${stepNumber}: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

class Session {
    static async open(scenario, { shell = false } = {}) {
        const s = new Session();
        s.scenario = scenario;
        s.downloads = fs.mkdtempSync(file("downloads-"));
        s.browser = await puppeteer.launch({
            executablePath: "/usr/bin/chromium",
            headless: true,
            userDataDir: fs.mkdtempSync(file("chromium-")),
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            defaultViewport: { width: 1280, height: 900 },
            protocolTimeout: TIMEOUT,
        });
        s.page = await s.browser.newPage();
        s.page.setDefaultTimeout(TIMEOUT);
        s.page.on("pageerror", e => console.log(`page error: ${e.message}`));
        s.page.on("console", m => { if (m.type() === "error" || m.type() === "warn") console.log(`console ${m.type()}: ${m.text()}`) });
        // Downloads land in s.downloads; the browser reports each one's progress.
        s.cdp = await s.browser.target().createCDPSession();
        await s.cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: s.downloads, eventsEnabled: true });
        if (shell) {
            await s.page.goto(env.COCKPIT_URL + "certd");
            s.frame = await s.page.waitForFrame(f => f.url().includes("/certd/index.html"), { timeout: TIMEOUT });
        } else {
            await s.page.goto(env.COCKPIT_URL + PAGE);
            s.frame = s.page.mainFrame();
        }
        await s.frame.waitForSelector("#certd-page", { timeout: TIMEOUT });
        current = s;
        return s;
    }

    $(selector) {
        return this.frame.locator(selector).setTimeout(TIMEOUT);
    }

    async wait(selector) {
        return this.frame.waitForSelector(selector, { timeout: TIMEOUT });
    }

    async gone(selector) {
        await this.frame.waitForSelector(selector, { hidden: true, timeout: TIMEOUT });
    }

    async text(selector) {
        const handle = await this.wait(selector);
        return handle.evaluate(e => e.textContent);
    }

    // Waits until the element's text contains `expected`.
    async waitText(selector, expected) {
        await this.frame.waitForFunction((sel, want) => {
            const e = document.querySelector(sel);
            return e && e.textContent.includes(want);
        }, { timeout: TIMEOUT }, selector, expected);
        return this.text(selector);
    }

    async fill(selector, value) {
        await this.$(selector).fill(value);
    }

    // Once the page's finite CSS transitions and animations have finished (a button that was
    // just enabled fades to its colour).
    async screenshot(name) {
        const settled = () => Promise.all(document.getAnimations()
                .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
                .map(a => a.finished.catch(() => {})));
        await this.frame.evaluate(settled);
        await this.page.screenshot({ path: path.join(env.SCREENSHOTS, `${this.scenario}-${name}.png`) });
    }

    // Runs `action` and resolves to the downloaded file once the browser completed it.
    async download(action) {
        let guid = null;
        const done = new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no download completed")), TIMEOUT);
            const begin = e => { guid = e.guid; this.suggested = e.suggestedFilename };
            const progress = e => {
                if (e.guid !== guid)
                    return;
                if (e.state === "completed" || e.state === "canceled") {
                    clearTimeout(timer);
                    this.cdp.off("Browser.downloadWillBegin", begin);
                    this.cdp.off("Browser.downloadProgress", progress);
                    e.state === "completed" ? resolve() : reject(new Error("download canceled"));
                }
            };
            this.cdp.on("Browser.downloadWillBegin", begin);
            this.cdp.on("Browser.downloadProgress", progress);
        });
        await action();
        await done;
        return { name: this.suggested, path: path.join(this.downloads, this.suggested) };
    }

    async tab(name) {
        if (!(await this.frame.$(`li.pf-m-current #tab-${name}`)))
            await this.$(`#tab-${name}`).click();
        await this.wait(`li.pf-m-current #tab-${name}`);
    }

    // Opens a certificate's page through its link in the table.
    async openCertificate(name) {
        await this.tab("certificates");
        await this.$(`tr[data-name="${name}"] td.certd-col-name button`).click();
        await this.waitText("#details-name", name);
    }

    // A row's kebab menu item ("Export", "Edit configuration", ...).
    async rowAction(name, item) {
        await this.$(`tr[data-name="${name}"] td.pf-v6-c-table__action button`).click();
        await this.$(`.pf-v6-c-menu__list-item ::-p-text(${item})`).click();
    }

    async uploadFile(formSelector, filePath) {
        const input = await this.frame.waitForSelector(`${formSelector} input[type=file]`, { timeout: TIMEOUT });
        await input.uploadFile(filePath);
    }

    async close() {
        await this.browser.close();
    }
}

function fingerprint(pemOrDerPath, inform = "PEM") {
    return openssl("x509", "-in", pemOrDerPath, "-inform", inform, "-noout", "-fingerprint", "-sha256")
            .split("=")[1].trim().replace(/:/g, "").toLowerCase();
}

// The certificate certd-tls serves on ADDRESS (PEM), and openssl's verdict on its chain.
// Its exit status is ignored: certd-tls closes the connection at once (the test runs no
// backend), which s_client may report as an error after the handshake it printed.
function served(address, servername, caFile) {
    const out = spawnSync("openssl", ["s_client", "-connect", `${address}:${env.TLS_PORT}`, "-servername", servername,
        "-CAfile", caFile, "-showcerts"], { input: "", encoding: "utf8", timeout: TIMEOUT }).stdout;
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(out);
    check(pem, `s_client saw no certificate on ${address}:\n${out}`);
    fs.writeFileSync(file("served.pem"), pem[0] + "\n");
    return { pem: pem[0], out };
}

const scenarios = {};

scenarios.csr_workflow = async () => {
    const s = await Session.open("csr_workflow", { shell: true });
    await step("the page opens inside Cockpit's shell with the factory certificate in the table", async () => {
        await s.wait("tr.certd-certificate-row");
        await s.waitText("#certificates-table", "factory default");
        await s.screenshot("1-certificates");
    });

    await step("the CSR form shows certd's validation message next to Country", async () => {
        await s.$("#create-button").click();
        await s.$("#create-kind-request").click();
        await s.fill("#create-friendly_name", "shop");
        // The key types are certd's own list (Manager.KeyTypes), EdDSA included.
        const offered = await s.frame.$$eval("#create-key option", options => options.map(o => o.value));
        for (const type of ["rsa2048", "ec-p384", "ed25519", "ed448"])
            check(offered.includes(type), `the key list lacks ${type}: ${offered.join(", ")}`);
        await s.frame.select("#create-key", "rsa2048");
        await s.fill("#create-country", "Germany");
        await s.fill("#create-organization", "Example Shop GmbH");
        await s.fill("#create-common_name", "shop.example.com");
        // Alternative names are added one by one.
        await s.fill("#create-san-value", "shop.example.com");
        await s.$("#create-san-add").click();
        await s.fill("#create-san-value", "www.shop.example.com");
        await s.$("#create-san-add").click();
        await s.frame.select("#create-san-type", "IP");
        await s.fill("#create-san-value", "127.0.0.2");
        await s.$("#create-san-add").click();
        await s.wait('[data-san="IP:127.0.0.2"]');
        await s.$("#create-submit").click();
        const message = await s.waitText("#create-country-error", "country:");
        check(message.includes("InvalidArgument"), `the error does not name certd's error: ${message}`);
        await s.screenshot("2-create-error");
    });

    let pem;
    await step("the corrected request is created; its request data shows with copy and download", async () => {
        await s.fill("#create-country", "DE");
        await s.$("#create-submit").click();
        const area = await s.wait("#created-request-pem");
        pem = await area.evaluate(e => e.value);
        check(pem.startsWith("-----BEGIN CERTIFICATE REQUEST-----"), `request data is not a PEM CSR: ${pem}`);
        await s.wait("#created-request-copy");
        await s.screenshot("3-request-data");
        const got = await s.download(() => s.$("#created-request-download").click());
        check(got.name === "shop.csr", `download named ${got.name}`);
        check(fs.readFileSync(got.path, "utf8") === pem, "the downloaded CSR differs from the request data shown");
        await s.$("#create-done").click();
        await s.gone("#created-request-pem");
    });

    await step("an openssl CA signs the request data taken from the page", async () => {
        fs.writeFileSync(file("shop.csr"), pem);
        const subject = openssl("req", "-in", file("shop.csr"), "-noout", "-subject");
        check(subject.includes("CN = shop.example.com") && subject.includes("C = DE"), `CSR subject: ${subject}`);
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.pem"),
                "-days", "365", "-subj", "/CN=Web Test CA");
        openssl("x509", "-req", "-in", file("shop.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
                "-CAcreateserial", "-days", "365", "-copy_extensions", "copy", "-out", file("signed.pem"));
        // What the CA sends back: the certificate and its issuer, in one file.
        fs.writeFileSync(file("shop-signed.pem"), fs.readFileSync(file("signed.pem")) + fs.readFileSync(file("ca.pem")));
    });

    await step("the signed file is uploaded: linked to the request's key, the request completed", async () => {
        await s.$("#import-button").click();
        await s.uploadFile("#import-form", file("shop-signed.pem"));
        await s.$("#import-submit:not([disabled])").click();
        await s.waitText("#import-result", "Certificate “shop”");
        await s.waitText("#import-result", "completed");
        await s.screenshot("4-import-result");
        await s.$("#import-done").click();
        const key = await s.waitText('tr[data-name="shop"] td.certd-col-key', "Available");
        check(key.includes("Available"), "shop has no private key");
    });

    await step("Edit Certificate Configuration: tick 127.0.0.2, see the pre-flight findings, save", async () => {
        await s.openCertificate("shop");
        await s.waitText('[data-term="SHA-256 fingerprint"]', fingerprint(file("signed.pem")));
        await s.waitText("#details-addresses-card", "currently assigned to Appliance (factory default)");
        await s.$('[id="address-127.0.0.2"]').click();
        // Moving 127.0.0.2 from the factory certificate's root to Web Test CA is worth knowing.
        await s.wait('#preflight .certd-finding[data-code="root-changed"]');
        await s.screenshot("5-preflight");
        await s.$("#addresses-save:not([disabled])").click();
        await s.wait("#addresses-saved");
        await s.waitText('[data-term="IP addresses"]', "127.0.0.2");
        await s.screenshot("6-details-saved");
    });

    await step("a manually specified chain: a foreign PEM gets certd's error, the CA's PEM is applied", async () => {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("other.key"),
                "-out", file("other.pem"), "-days", "30", "-subj", "/CN=Some Other CA");
        await s.$("#chain-manual").click();
        await s.uploadFile("#chain-form", file("other.pem"));
        await s.$("#chain-apply:not([disabled])").click();
        await s.waitText("#chain-error", "InvalidCertificate");
        await s.uploadFile("#chain-form", file("ca.pem"));
        await s.$("#chain-apply:not([disabled])").click();
        await s.waitText("#details-chain-mode", "manually specified");
        await s.waitText("#details-chain", "Web Test CA");
    });

    await step("openssl s_client on 127.0.0.2 gets the new certificate, verified up to the CA", async () => {
        const { out } = served("127.0.0.2", "shop.example.com", file("ca.pem"));
        check(fingerprint(file("served.pem")) === fingerprint(file("signed.pem")), "127.0.0.2 serves another certificate");
        check(out.includes("Verify return code: 0 (ok)"), `the chain does not verify:\n${out}`);
    });

    await step("the table shows shop on 127.0.0.2; Status > Basics shows the binding", async () => {
        await s.$("#details-back").click();
        await s.waitText('tr[data-name="shop"] td.certd-col-addresses', "127.0.0.2");
        await s.screenshot("7-certificates");
        await s.tab("status");
        await s.waitText('#status-addresses tr[data-address="127.0.0.2"]', "shop");
        await s.waitText("#status-terminator", "running");
        await s.screenshot("8-status");
    });
    await s.close();
};

scenarios.import_export = async () => {
    const s = await Session.open("import_export");
    await step("a PKCS#12 file from openssl", async () => {
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("peer.key"), "-out", file("peer.pem"),
                "-days", "365", "-subj", "/CN=peer.example.com", "-addext", "subjectAltName=DNS:peer.example.com");
        openssl("pkcs12", "-export", "-in", file("peer.pem"), "-inkey", file("peer.key"), "-passout", "pass:right one",
                "-name", "peer", "-out", file("peer.p12"));
    });

    await step("upload without a passphrase: certd's PassphraseRequired brings the passphrase prompt", async () => {
        await s.$("#import-button").click();
        await s.uploadFile("#import-form", file("peer.p12"));
        await s.$("#import-submit:not([disabled])").click();
        await s.wait("#import-passphrase");
        await s.waitText("#import-passphrase-error", "PassphraseRequired");
    });

    await step("a wrong passphrase: BadPassphrase next to the passphrase field", async () => {
        await s.fill("#import-passphrase", "wrong");
        await s.$("#import-submit:not([disabled])").click();
        await s.waitText("#import-passphrase-error", "BadPassphrase");
        await s.screenshot("1-bad-passphrase");
    });

    await step("the right passphrase: the certificate and its key are imported", async () => {
        await s.fill("#import-passphrase", "right one");
        await s.$("#import-submit:not([disabled])").click();
        await s.waitText("#import-result", "Certificate “peer.example.com”");
        await s.waitText("#import-result", "Private key (RSA 2048 bits)");
        await s.$("#import-done").click();
        await s.waitText('tr[data-name="peer.example.com"] td.certd-col-key', "Available");
    });

    await step("export with the key as PKCS#12 downloads a file openssl pkcs12 reads", async () => {
        await s.rowAction("peer.example.com", "Export");
        await s.frame.select("#export-format", "pkcs12");
        await s.$("#export-include-key").click();
        await s.fill("#export-passphrase", "exported secret");
        await s.screenshot("2-export");
        const got = await s.download(() => s.$("#export-submit").click());
        check(got.name === "peer.example.com.p12", `download named ${got.name}`);
        const text = openssl("pkcs12", "-in", got.path, "-passin", "pass:exported secret", "-nodes");
        fs.writeFileSync(file("exported.pem"), text);
        check(fingerprint(file("exported.pem")) === fingerprint(file("peer.pem")), "the export holds another certificate");
        const key = openssl("pkey", "-in", file("exported.pem"), "-pubout");
        const expected = openssl("x509", "-in", file("peer.pem"), "-noout", "-pubkey");
        check(key === expected, "the exported key does not belong to the certificate");
        await s.gone("#export-form");
    });

    await step("a certificate expiring in 10 days: CertificateExpiring shows on the page", async () => {
        run(env.MAKE_TEST_CERT, ["soon.example.com", String(10 * 86400), file("soon.pem")]);
        await s.$("#import-button").click();
        await s.uploadFile("#import-form", file("soon.pem"));
        await s.$("#import-submit:not([disabled])").click();
        await s.wait("#import-result");
        await s.$("#import-done").click();
        const alert = await s.waitText('.certd-expiring-alert[data-days="30"]', "soon.example.com");
        check(alert.includes("expires within 30 days"), `alert says: ${alert}`);
        await s.wait('tr[data-name="soon.example.com"] [data-warning="expiring-soon"]');
        await s.screenshot("3-expiring");
    });

    await step("an expired certificate: the pre-flight error holds Save until force is chosen", async () => {
        run(env.MAKE_TEST_CERT, ["expired.example.com", "-60", file("expired.pem"), "-7200"]);
        await s.$("#import-button").click();
        await s.uploadFile("#import-form", file("expired.pem"));
        await s.$("#import-submit:not([disabled])").click();
        await s.wait("#import-result");
        await s.$("#import-done").click();
        await s.openCertificate("expired.example.com");
        await s.$('[id="address-127.0.0.3"]').click();
        await s.wait('#preflight .certd-finding[data-severity="error"][data-code="expired"]');
        await s.wait("#addresses-save[disabled]");
        await s.$("#preflight-force").click();
        await s.screenshot("4-force");
        await s.$("#addresses-save:not([disabled])").click();
        await s.waitText("#addresses-saved ~ .certd-call-warnings", "expired");
        const expired = JSON.parse(certctl("--json", "list")).find(c => c.FriendlyName === "expired.example.com");
        check(expired.Addresses.includes("127.0.0.3"), `certctl list: ${JSON.stringify(expired)}`);
        await s.$("#details-back").click();
    });

    await step("deleting the factory certificate: certd's InUse next to the Delete button", async () => {
        await s.openCertificate("Appliance");
        await s.$("#details-delete").click();
        await s.$("#delete-confirm").click();
        await s.waitText("#delete-error", "InUse");
        await s.screenshot("5-delete-refused");
    });
    await s.close();
};

scenarios.live = async () => {
    const s = await Session.open("live");
    // A reload would lose this.
    await s.frame.evaluate(() => { window.certdNoReload = true });

    await step("certctl create-self-signed in another shell: the row appears", async () => {
        certctl("create-self-signed", "--name", "live", "--key-type", "ec-p256", "--cn", "live.example.com");
        await s.waitText('tr[data-name="live"] td.certd-col-issued-to', "live.example.com");
    });

    await step("certctl rename and assign: the row follows (PropertiesChanged)", async () => {
        certctl("rename", "live", "live two");
        await s.wait('tr[data-name="live two"]');
        await s.gone('tr[data-name="live"]');
        certctl("assign", "127.0.0.3", "live two");
        await s.waitText('tr[data-name="live two"] td.certd-col-addresses', "127.0.0.3");
        await s.frame.waitForFunction(() => !document.querySelector('tr[data-name="Appliance"] td.certd-col-addresses')
                .textContent.includes("127.0.0.3"), { timeout: TIMEOUT });
        await s.screenshot("1-after-certctl");
    });

    await step("certctl create-request: the Requests tab counts it and lists it", async () => {
        certctl("create-request", "--name", "next", "--key-type", "ec-p256", "--cn", "next.example.com", "-o", file("next.csr"));
        await s.waitText("#tab-requests", "Requests (1)");
        await s.tab("requests");
        await s.waitText('#requests-table tr[data-name="next"] .certd-request-state', "pending");
        await s.tab("certificates");
    });

    await step("certctl assign back and delete: the row goes away", async () => {
        certctl("assign", "127.0.0.3", "Appliance");
        certctl("delete", "live two");
        await s.gone('tr[data-name="live two"]');
    });

    await step("all of it without a reload", async () => {
        check(await s.frame.evaluate(() => window.certdNoReload === true), "the page was reloaded");
    });
    await s.close();
};

// Polls `test` (a cheap check of a process or a file) until it holds, bounded by TIMEOUT.
async function until(what, test) {
    const end = Date.now() + TIMEOUT;
    while (!test()) {
        check(Date.now() < end, `timed out waiting for ${what}`);
        await new Promise(resolve => setTimeout(resolve, 100)); // the polling interval, not a wait for an event
    }
}

// Let's Encrypt's test CA (Debian's pebble) on loopback, with real validation: its VA
// connects to the identifier on certd-tls's port, where certd answers tls-alpn-01. Its HTTPS
// certificate comes from a CA made here (pebble-ca.pem, the order's ca_bundle).
async function startPebble() {
    const port = Number(env.TLS_PORT) + 2;
    const mgmt = port + 1;
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            file("pebble-ca.key"), "-out", file("pebble-ca.pem"), "-days", "2", "-subj", "/CN=pebble test CA");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("pebble.key"),
            "-out", file("pebble.csr"), "-subj", "/CN=127.0.0.1");
    fs.writeFileSync(file("pebble.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", file("pebble.csr"), "-CA", file("pebble-ca.pem"), "-CAkey", file("pebble-ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", file("pebble.ext"), "-out", file("pebble.pem"));
    fs.writeFileSync(file("pebble.json"), JSON.stringify({
        pebble: {
            listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${mgmt}`,
            certificate: file("pebble.pem"), privateKey: file("pebble.key"), httpPort: port + 2,
            tlsPort: Number(env.TLS_PORT), ocspResponderURL: "", externalAccountBindingRequired: false,
        }
    }));
    const log = fs.openSync(file("pebble.log"), "a");
    const proc = spawn("pebble", ["-config", file("pebble.json")], {
        stdio: ["ignore", log, log],
        env: { ...env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    });
    const directory = `https://127.0.0.1:${port}/dir`;
    // Its log says "available" before it accepts: wait for an answer.
    await until("pebble's directory", () => {
        check(proc.exitCode === null, `pebble exited: ${fs.readFileSync(file("pebble.log"), "utf8")}`);
        return spawnSync("curl", ["-sf", "--cacert", file("pebble-ca.pem"), directory]).status === 0;
    });
    run("curl", ["-sf", "--cacert", file("pebble-ca.pem"), "-o", file("pebble-root.pem"),
        `https://127.0.0.1:${mgmt}/roots/0`]);
    return { proc, directory };
}

// What certd-tls serves on 127.0.0.3, verified against pebble's root; its SHA-256 fingerprint.
function servedByPebble() {
    const { out } = served("127.0.0.3", "127.0.0.3", file("pebble-root.pem"));
    check(out.includes("Verify return code: 0 (ok)"), `the chain on 127.0.0.3 does not verify against pebble's root:\n${out}`);
    return fingerprint(file("served.pem"));
}

scenarios.acme = async () => {
    const pebble = await startPebble();
    try {
        const s = await Session.open("acme");
        const row = '#acme-table tr[data-name="web acme"]';

        await step("the ACME tab is empty and offers a new order", async () => {
            await s.tab("acme");
            await s.wait("#acme-empty");
            await s.wait("#acme-new");
        });

        await step("an http:// directory gets certd's InvalidArgument under its field", async () => {
            await s.$("#acme-new").click();
            await s.fill("#acme-directory_url", "http://127.0.0.1:1/dir");
            await s.fill("#acme-identifiers", "127.0.0.3");
            await s.$("#acme-submit").click();
            const message = await s.waitText("#acme-directory_url-error", "directory_url:");
            check(message.includes("InvalidArgument"), `the error does not name certd's error: ${message}`);
            await s.screenshot("1-order-error");
        });

        let first;
        await step("the order (pebble's CA bundle, 127.0.0.3 ticked) becomes valid on the page, live", async () => {
            await s.fill("#acme-directory_url", pebble.directory);
            await s.fill("#acme-contact", "admin@example.com");
            await s.uploadFile("#acme-form", file("pebble-ca.pem"));
            await s.$('[id="acme-assign-127.0.0.3"]').click();
            await s.fill("#acme-friendly_name", "web acme");
            await s.$("#acme-submit").click();
            await s.gone("#acme-form");
            await s.wait(`${row}[data-state="valid"]`);
            first = await s.frame.$eval(row, e => e.dataset.certificate);
            check(first, "a valid order without a certificate");
            await s.waitText(`${row} .certd-acme-account`, "admin@example.com");
            await s.waitText(`${row} .certd-acme-certificate`, "web acme");
            await s.screenshot("2-valid");
        });

        await step("certd-tls serves the issued certificate on 127.0.0.3, verified against pebble's root", async () => {
            await until("127.0.0.3 to serve the ACME certificate", () => servedByPebble().startsWith(first));
        });

        await step("Renew brings a new certificate, served at once; the old one stays stored", async () => {
            await s.$(`${row} .certd-acme-renew`).click();
            await s.frame.waitForFunction((sel, old) => {
                const e = document.querySelector(sel);
                return e && e.dataset.state === "valid" && e.dataset.certificate && e.dataset.certificate !== old;
            }, { timeout: TIMEOUT }, row, first);
            const renewed = await s.frame.$eval(row, e => e.dataset.certificate);
            await until("127.0.0.3 to serve the renewed certificate", () => servedByPebble().startsWith(renewed));
            await s.tab("certificates");
            await s.wait(`tr[data-path="/org/certd1/certificate/${first}"]`);
            await s.tab("acme");
        });

        await step("Delete: the order goes, its certificates stay", async () => {
            await s.$(`${row} .certd-acme-delete`).click();
            await s.$("#delete-acme-confirm").click();
            await s.gone(row);
            await s.wait("#acme-empty");
            await s.tab("certificates");
            await s.wait(`tr[data-path="/org/certd1/certificate/${first}"]`);
        });
        await s.close();
    } finally {
        pebble.proc.kill();
    }
};

scenarios.viewer = async () => {
    certctl("create-request", "--name", "pending", "--key-type", "ec-p256", "--cn", "pending.example.com", "-o", file("p.csr"));
    const s = await Session.open("viewer");
    await step("a non-admin session sees the table, marked read only, with no Create or Import", async () => {
        await s.wait('#certd-page[data-rights="read"]');
        await s.wait("#viewer-label");
        await s.wait('tr[data-name="Appliance"]');
        check(!(await s.frame.$("#create-button")) && !(await s.frame.$("#import-button")), "Create/Import offered to a viewer");
        await s.screenshot("1-certificates");
    });

    await step("the row menu offers only Details and Export", async () => {
        await s.$('tr[data-name="Appliance"] td.pf-v6-c-table__action button').click();
        const items = await s.frame.$$eval(".pf-v6-c-menu__item-text", es => es.map(e => e.textContent));
        check(JSON.stringify(items) === JSON.stringify(["Details", "Export"]), `menu items: ${items}`);
        await s.page.keyboard.press("Escape");
    });

    await step("the certificate page has no rename, address checkboxes, chain controls or Delete", async () => {
        await s.openCertificate("Appliance");
        await s.wait("#details-addresses-readonly");
        for (const sel of ["#details-friendly-name", "#addresses-form", "#chain-form", "#details-delete", "#details-rekey"])
            check(!(await s.frame.$(sel)), `${sel} shown to a viewer`);
        await s.screenshot("2-details");
    });

    await step("export without the key is offered and works; including the key is not offered", async () => {
        await s.$("#details-export").click();
        await s.wait("#export-form");
        check(!(await s.frame.$("#export-include-key")), "include private key offered to a viewer");
        const got = await s.download(() => s.$("#export-submit").click());
        check(got.name === "Appliance.der", `download named ${got.name}`);
        openssl("x509", "-in", got.path, "-inform", "DER", "-noout");
    });

    await step("the Requests tab shows request data but no Delete", async () => {
        await s.$("#details-back").click();
        await s.tab("requests");
        await s.wait('#requests-table tr[data-name="pending"] .certd-show-request');
        check(!(await s.frame.$(".certd-delete-request")), "Delete offered to a viewer");
    });

    await step("the ACME tab shows an order failing with certd's error, and no New order, Renew or Delete", async () => {
        // A CA that is not there: the order fails (FetchFailed) and is retried.
        certctl("acme", "order", "--directory", "https://127.0.0.1:1/dir", "--identifier", "127.0.0.2", "--name", "nowhere");
        await s.tab("acme");
        await s.wait('#acme-table tr[data-name="nowhere"][data-state="failed"]');
        await s.waitText('#acme-table tr[data-name="nowhere"] .certd-acme-error', "FetchFailed");
        for (const sel of ["#acme-new", ".certd-acme-renew", ".certd-acme-delete"])
            check(!(await s.frame.$(sel)), `${sel} shown to a viewer`);
        await s.screenshot("3-acme");
    });
    await s.close();
};

const name = process.argv[2];
if (!scenarios[name]) {
    console.error(`usage: browser.cjs ${Object.keys(scenarios).join("|")}`);
    process.exit(2);
}
scenarios[name]().then(() => process.exit(0), e => {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
});
