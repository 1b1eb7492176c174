// Edit Certificate Configuration: every property of one certificate, its chain
// (automatic, or a manually specified PEM upload), the IP address checkboxes with
// "currently assigned to …", the pre-flight findings before saving (with an explicit
// force choice), export and delete. A viewer sees the same page without controls.

import { useEffect, useState } from "react";
import {
    Alert, Breadcrumb, BreadcrumbItem, Button, Card, CardBody, CardTitle, Checkbox, DescriptionList,
    DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, EmptyState, FileUpload, Flex, FlexItem,
    Form, FormGroup, Label, List, ListItem, Modal, ModalBody, ModalFooter, ModalHeader, Radio, TextInput, Title,
} from "@patternfly/react-core";

import { call, IFACE, idOf, toBase64 } from "./certd.js";
import { FieldError, InlineError, useChosenFile, WarningLabels, WarningList } from "./common.jsx";
import { formatSans, formatTime } from "./format.js";

function nameOf(state, path) {
    const c = state.certificates[path];
    if (!c)
        return path === "/" ? "—" : path;
    return c.IsFactoryDefault ? `${c.FriendlyName} (factory default)` : c.FriendlyName;
}

function CertificateLink({ state, path, navigate }) {
    if (!state.certificates[path])
        return <span>{nameOf(state, path)}</span>;
    return <Button variant="link" isInline onClick={() => navigate(["certificate", idOf(path)])}>{nameOf(state, path)}</Button>;
}

function FriendlyName({ cert }) {
    const [value, setValue] = useState(cert.FriendlyName);
    const [error, setError] = useState(null);
    const [saved, setSaved] = useState(false);
    useEffect(() => setValue(cert.FriendlyName), [cert.FriendlyName]);
    const save = event => {
        event.preventDefault();
        setError(null);
        setSaved(false);
        call(cert.path, IFACE.certificate, "SetFriendlyName", [value]).then(() => setSaved(true), setError);
    };
    return (
        <Form onSubmit={save} isHorizontal id="friendly-name-form">
            <FormGroup label="Friendly name" fieldId="details-friendly-name">
                <Flex>
                    <FlexItem grow={{ default: "grow" }}>
                        <TextInput id="details-friendly-name" value={value} onChange={(e, v) => { setValue(v); setSaved(false) }}
                                   validated={error ? "error" : "default"} />
                    </FlexItem>
                    <FlexItem>
                        <Button id="details-friendly-name-save" type="submit" variant="secondary"
                                isDisabled={value === cert.FriendlyName}>Rename</Button>
                    </FlexItem>
                </Flex>
                <FieldError error={error} id="details-friendly-name-error" />
                {saved && <span className="certd-saved">Saved.</span>}
            </FormGroup>
        </Form>
    );
}

function Properties({ state, cert, navigate }) {
    const key = state.keys[cert.Key];
    const rows = [
        ["Friendly name", cert.FriendlyName],
        ["Subject", cert.Subject],
        ["Issuer", cert.Issuer],
        ["Issued to", cert.IssuedTo],
        ["Issued by", cert.IssuedBy],
        ["Serial number", <code key="s">{cert.SerialNumber}</code>],
        ["Signature algorithm", cert.SignatureAlgorithm],
        ["Valid from", formatTime(cert.NotBeforeUSec)],
        ["Valid until", formatTime(cert.NotAfterUSec)],
        ["Public key", cert.PublicKey],
        ["Alternative names", formatSans(cert.SubjectAlternativeNames) || "—"],
        ["Authority information access", cert.AuthorityInfoAccess.join(", ") || "—"],
        ["SHA-256 fingerprint", <code key="f" className="certd-fingerprint">{cert.FingerprintSHA256}</code>],
        ["Private key", cert.HasPrivateKey
            ? `Available${key ? ` (${key.Algorithm} ${key.Bits} bits, key ${idOf(cert.Key)})` : ""}`
            : "Not available: import the key or re-key"],
        ["Kind", cert.Kind],
        ["Factory default", cert.IsFactoryDefault ? "Yes: it holds every address nobody assigned" : "No"],
        ["IP addresses", cert.Addresses.join(", ") || "—"],
        ["Warnings", cert.Warnings.length ? <WarningLabels key="w" warnings={cert.Warnings} /> : "None"],
    ];
    return (
        <DescriptionList isHorizontal isCompact id="details-properties">
            {rows.map(([term, value]) => (
                <DescriptionListGroup key={term}>
                    <DescriptionListTerm>{term}</DescriptionListTerm>
                    <DescriptionListDescription data-term={term}>{value}</DescriptionListDescription>
                </DescriptionListGroup>
            ))}
            {cert.Warnings.length > 0 &&
            <DescriptionListGroup>
                <DescriptionListTerm>Warnings in full</DescriptionListTerm>
                <DescriptionListDescription>
                    <List isPlain>{cert.Warnings.map(([code, text]) => <ListItem key={code}>{text}</ListItem>)}</List>
                </DescriptionListDescription>
            </DescriptionListGroup>}
        </DescriptionList>
    );
}

function Chain({ state, cert, manage, navigate }) {
    const [mode, setMode] = useState(cert.ChainMode);
    const [error, setError] = useState(null);
    const [file, chooseFile] = useChosenFile(setError);
    const [busy, setBusy] = useState(false);
    const [fetched, setFetched] = useState(null);
    const [fetchError, setFetchError] = useState(null);
    useEffect(() => setMode(cert.ChainMode), [cert.ChainMode]);

    const choose = (event, chosen) => {
        setError(null);
        chooseFile(event, chosen);
    };
    const apply = () => {
        setBusy(true);
        setError(null);
        const pem = mode === "manual" ? toBase64(file.data) : "";
        call(cert.path, IFACE.certificate, "SetChain", [mode, pem])
                .then(() => chooseFile(null, null), setError)
                .finally(() => setBusy(false));
    };
    const fetchIssuer = () => {
        setFetched(null);
        setFetchError(null);
        call(cert.path, IFACE.certificate, "FetchIssuer", []).then(([imported]) => setFetched(imported), setFetchError);
    };
    const unchanged = mode === cert.ChainMode && mode === "automatic";
    const incomplete = cert.Warnings.some(([code]) => code === "chain-incomplete");

    return (
        <>
            {cert.Chain.length === 0
                ? <p id="details-chain-empty">{cert.Kind === "root" ? "Self-signed root: no issuers." : "No issuers are served with it."}</p>
                : <List component="ol" id="details-chain">
                    {cert.Chain.map(p => <ListItem key={p}><CertificateLink state={state} path={p} navigate={navigate} /></ListItem>)}
                </List>}
            <p>Chain: <strong id="details-chain-mode">{cert.ChainMode === "manual" ? "manually specified" : "automatic"}</strong></p>
            {manage &&
            <Form id="chain-form" onSubmit={e => { e.preventDefault(); apply() }}>
                <FormGroup role="radiogroup" fieldId="chain-mode" label="Chain" isInline>
                    <Radio id="chain-automatic" name="chain-mode" label="Automatic (built from the stored certificates)"
                           isChecked={mode === "automatic"} onChange={() => setMode("automatic")} />
                    <Radio id="chain-manual" name="chain-mode" label="Manually specified (PEM upload)"
                           isChecked={mode === "manual"} onChange={() => setMode("manual")} />
                </FormGroup>
                {mode === "manual" &&
                <FormGroup label="Issuers, the leaf's issuer first" fieldId="chain-file">
                    <FileUpload id="chain-file" filename={file?.name || ""} hideDefaultPreview browseButtonText="Choose file…"
                                onFileInputChange={choose} onClearClick={() => choose(null, null)}
                                validated={error ? "error" : "default"} />
                </FormGroup>}
                <FieldError error={error} id="chain-error" />
                <Flex>
                    <FlexItem>
                        <Button id="chain-apply" type="submit" variant="secondary" isLoading={busy}
                                isDisabled={busy || unchanged || (mode === "manual" && !file)}>Apply chain</Button>
                    </FlexItem>
                    {incomplete && cert.AuthorityInfoAccess.length > 0 &&
                    <FlexItem>
                        <Button id="chain-fetch" variant="secondary" onClick={fetchIssuer}>Fetch missing issuers</Button>
                    </FlexItem>}
                </Flex>
                <InlineError error={fetchError} id="chain-fetch-error" />
                {fetched && <p id="chain-fetched">Imported {fetched.length} issuer certificate{fetched.length === 1 ? "" : "s"}.</p>}
            </Form>}
        </>
    );
}

const SEVERITY = { error: "danger", warning: "warning", info: "info" };

function Addresses({ state, cert, manage }) {
    const addresses = Object.values(state.addresses).sort((a, b) => a.Address.localeCompare(b.Address, "en", { numeric: true }));
    const [ticked, setTicked] = useState(new Set(cert.Addresses));
    const [dirty, setDirty] = useState(false);
    const [findings, setFindings] = useState(null);
    const [checkError, setCheckError] = useState(null);
    const [force, setForce] = useState(false);
    const [error, setError] = useState(null);
    const [warnings, setWarnings] = useState(null);
    const [busy, setBusy] = useState(false);

    const current = cert.Addresses.join(" ");
    // Follow changes made elsewhere (certctl, another browser) until the user edits.
    useEffect(() => {
        if (!dirty)
            setTicked(new Set(cert.Addresses));
    }, [current, dirty]);

    const warningKey = cert.Warnings.map(w => w[0]).join(" ");
    useEffect(() => {
        if (!manage)
            return;
        setCheckError(null);
        call(cert.path, IFACE.certificate, "Check", [[]])
                .then(([result]) => setFindings(result), setCheckError);
    }, [cert.path, warningKey, current, manage]);

    if (!manage) {
        return (
            <List id="details-addresses-readonly">
                {addresses.filter(a => a.Certificate === cert.path).map(a => <ListItem key={a.path}>{a.Address}:{a.Port}</ListItem>)}
                {cert.Addresses.length === 0 && <ListItem>Not assigned to any address.</ListItem>}
            </List>
        );
    }

    const newlyTicked = [...ticked].filter(a => !cert.Addresses.includes(a));
    // Root changes matter only for addresses this save moves here.
    const relevant = (findings || []).filter(([severity, code, text]) =>
        code !== "root-changed" || newlyTicked.some(a => text.startsWith(a + " ")));
    const errors = relevant.filter(([severity]) => severity === "error");
    const changed = dirty && [...ticked].sort().join(" ") !== [...cert.Addresses].sort().join(" ");

    const toggle = (address, on) => {
        const next = new Set(ticked);
        if (on)
            next.add(address);
        else
            next.delete(address);
        setTicked(next);
        setDirty(true);
        setError(null);
        setWarnings(null);
    };

    const save = () => {
        setBusy(true);
        setError(null);
        setWarnings(null);
        const options = force ? { force: { t: "b", v: true } } : {};
        const list = addresses.map(a => a.Address).filter(a => ticked.has(a));
        call(cert.path, IFACE.certificate, "SetAddresses", [list, options])
                .then(([result]) => {
                    setWarnings(result);
                    setDirty(false);
                    setForce(false);
                }, setError)
                .finally(() => setBusy(false));
    };

    return (
        <Form id="addresses-form" onSubmit={e => { e.preventDefault(); save() }}>
            {!cert.HasPrivateKey &&
                <Alert variant="info" isInline isPlain title="Only a certificate whose private key certd holds can be assigned." />}
            {cert.IsFactoryDefault &&
                <p className="certd-hint">The factory default certificate serves every address nobody assigned: take an address away by assigning it to another certificate.</p>}
            <FormGroup role="group" fieldId="addresses" label="Serve this certificate on">
                {addresses.map(a => {
                    const mine = a.Certificate === cert.path;
                    const elsewhere = !mine && a.Certificate !== "/" ? nameOf(state, a.Certificate) : null;
                    return (
                        <Checkbox key={a.path} id={`address-${a.Address}`} data-address={a.Address}
                                  label={`${a.Address}:${a.Port}`}
                                  description={<>
                                      {elsewhere && <span className="certd-assigned-to">currently assigned to {elsewhere}</span>}
                                      {a.State !== "listening" && <span> · {a.State}{a.Error ? `: ${a.Error}` : ""}</span>}
                                  </>}
                                  isChecked={ticked.has(a.Address)}
                                  isDisabled={!cert.HasPrivateKey || (cert.IsFactoryDefault && mine)}
                                  onChange={(e, on) => toggle(a.Address, on)} />
                    );
                })}
            </FormGroup>
            {changed &&
            <div id="preflight">
                <Title headingLevel="h4" size="md">Pre-flight check</Title>
                <InlineError error={checkError} id="preflight-error" />
                {findings === null && !checkError && <p>Checking…</p>}
                {findings !== null && relevant.length === 0 && <p id="preflight-clean">No findings: ready to save.</p>}
                {relevant.map(([severity, code, text]) => (
                    <Alert key={code + text} variant={SEVERITY[severity] || "info"} isInline isPlain
                           title={`${code}: ${text}`} className="certd-finding" data-severity={severity} data-code={code} />
                ))}
                {errors.length > 0 &&
                <Checkbox id="preflight-force" isChecked={force} onChange={(e, v) => setForce(v)}
                          label="Assign despite these errors (force)"
                          description="Clients connecting to these addresses will see the problems listed above." />}
            </div>}
            <Flex>
                <FlexItem>
                    <Button id="addresses-save" type="submit" variant="primary" isLoading={busy}
                            isDisabled={!changed || busy || (errors.length > 0 && !force)}>Save</Button>
                </FlexItem>
            </Flex>
            <InlineError error={error} id="addresses-error" />
            {warnings && <p id="addresses-saved">Saved.</p>}
            <WarningList warnings={warnings} title="Saved with warnings" />
        </Form>
    );
}

function DeleteDialog({ cert, onClose, onDeleted }) {
    const [error, setError] = useState(null);
    const remove = () => call(cert.path, IFACE.certificate, "Delete", []).then(onDeleted, setError);
    return (
        <Modal isOpen variant="small" onClose={onClose} aria-labelledby="delete-title">
            <ModalHeader title={`Delete “${cert.FriendlyName}”?`} labelId="delete-title" titleIconVariant="warning" />
            <ModalBody>
                The certificate is removed from the appliance; its key goes with it unless another
                certificate or a request uses that key.
                <InlineError error={error} id="delete-error" />
            </ModalBody>
            <ModalFooter>
                <Button id="delete-confirm" variant="danger" onClick={remove}>Delete</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

export function CertificateDetails({ state, id, navigate, onExport, onRekey }) {
    const path = `/org/certd1/certificate/${id}`;
    const cert = state.certificates[path];
    const [deleting, setDeleting] = useState(false);
    const manage = state.rights?.manage;

    const back = (
        <Breadcrumb>
            <BreadcrumbItem>
                <Button variant="link" isInline id="details-back" onClick={() => navigate([])}>Certificates</Button>
            </BreadcrumbItem>
            <BreadcrumbItem isActive>{cert ? cert.FriendlyName : id}</BreadcrumbItem>
        </Breadcrumb>
    );
    if (!cert) {
        return (
            <>
                {back}
                <EmptyState titleText="No such certificate" headingLevel="h2" id="details-missing">
                    It was deleted, or the address is wrong.
                </EmptyState>
            </>
        );
    }
    return (
        <div id="certificate-details" data-path={path}>
            {back}
            <Title headingLevel="h1" size="xl" className="certd-details-title">
                {manage ? "Edit Certificate Configuration: " : "Certificate: "}<span id="details-name">{cert.FriendlyName}</span>
                {cert.IsFactoryDefault && <Label className="certd-factory">factory default</Label>}
            </Title>
            <Flex className="certd-details-actions">
                <FlexItem><Button id="details-export" variant="secondary" onClick={() => onExport(path)}>Export…</Button></FlexItem>
                {manage && cert.Kind === "server" &&
                <FlexItem><Button id="details-rekey" variant="secondary" onClick={() => onRekey(cert)}>Re-key (new request)…</Button></FlexItem>}
                {manage &&
                <FlexItem><Button id="details-delete" variant="danger"
                                  onClick={() => setDeleting(true)}>Delete…</Button></FlexItem>}
            </Flex>
            {manage &&
            <Card isPlain>
                <CardBody><FriendlyName cert={cert} /></CardBody>
            </Card>}
            <Card id="details-addresses-card">
                <CardTitle>IP addresses</CardTitle>
                <CardBody><Addresses state={state} cert={cert} manage={manage} /></CardBody>
            </Card>
            <Card>
                <CardTitle>Certificate</CardTitle>
                <CardBody><Properties state={state} cert={cert} navigate={navigate} /></CardBody>
            </Card>
            <Card id="details-chain-card">
                <CardTitle>Chain</CardTitle>
                <CardBody><Chain state={state} cert={cert} manage={manage} navigate={navigate} /></CardBody>
            </Card>
            {deleting &&
            <DeleteDialog cert={cert} onClose={() => setDeleting(false)}
                          onDeleted={() => { setDeleting(false); navigate([]) }} />}
        </div>
    );
}

