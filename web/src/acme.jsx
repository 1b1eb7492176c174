// ACME: the orders certd runs against ACME CAs (org.certd1.AcmeOrder), live as they move
// (pending, processing, valid, failed with certd's error), their certificates and accounts;
// a form for a new order (Manager.CreateAcmeOrder), Renew and Delete.

import { useState } from "react";
import {
    Button, Checkbox, EmptyState, EmptyStateBody, FileUpload, Flex, Form, FormGroup, FormSelect, FormSelectOption,
    Label, Modal, ModalBody, ModalFooter, ModalHeader, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

import { call, callManager, errorField, IFACE, idOf, toBase64, variant } from "./certd.js";
import { FieldError, InlineError, useChosenFile, WarningList } from "./common.jsx";
import { formatTime } from "./format.js";

const STATE_COLORS = { valid: "green", pending: "blue", processing: "blue", invalid: "red", failed: "red" };
const CHALLENGES = [
    ["tls-alpn-01", "TLS-ALPN-01: answered by certd on the address's TLS port"],
    ["http-01", "HTTP-01: answered on the ACME HTTP port (certd.yaml acme_http_port)"],
    ["dns-01", "DNS-01: through the DNS hook (certd.yaml acme_dns_hook); for wildcards"],
];

// The spec keys the form sends; an InvalidArgument about one of them shows under its field.
const FIELDS = ["directory_url", "identifiers", "challenge", "key_type", "contact", "ca_bundle", "assign",
    "friendly_name"];

export function AcmeOrderDialog({ state, onClose }) {
    const [form, setForm] = useState({
        directory_url: "", identifiers: "", challenge: "tls-alpn-01", key_type: "ec-p256", contact: "",
        friendly_name: "",
    });
    const [assign, setAssign] = useState([]);
    const [error, setError] = useState(null);
    const [bundle, chooseFile] = useChosenFile(setError);
    const [busy, setBusy] = useState(false);
    const [warnings, setWarnings] = useState(null);
    const set = key => (event, value) => setForm({ ...form, [key]: value });
    const field = errorField(error);
    const fieldError = key => (field === key ? error : null);
    const otherError = error && !FIELDS.includes(field) ? error : null;
    const keyTypes = state.manager.KeyTypes || ["ec-p256"];
    const addresses = Object.values(state.addresses).map(a => a.Address).sort();

    const chooseBundle = (event, chosen) => {
        setError(null);
        chooseFile(event, chosen);
    };

    const submit = event => {
        event?.preventDefault();
        const spec = {
            directory_url: variant("s", form.directory_url.trim()),
            identifiers: variant("as", form.identifiers.split(/[\s,]+/).filter(Boolean)),
            challenge: variant("s", form.challenge),
            key_type: variant("s", form.key_type),
        };
        if (form.contact.trim())
            spec.contact = variant("s", form.contact.trim());
        if (form.friendly_name.trim())
            spec.friendly_name = variant("s", form.friendly_name.trim());
        if (bundle)
            spec.ca_bundle = variant("ay", toBase64(bundle.data));
        if (assign.length > 0)
            spec.assign = variant("as", assign);
        setBusy(true);
        setError(null);
        callManager("CreateAcmeOrder", [spec])
                .then(([, found]) => (found.length > 0 ? setWarnings(found) : onClose()))
                .catch(setError)
                .finally(() => setBusy(false));
    };

    if (warnings) {
        return (
            <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="acme-created-title">
                <ModalHeader title="ACME order created" labelId="acme-created-title" />
                <ModalBody><WarningList warnings={warnings} /></ModalBody>
                <ModalFooter>
                    <Button id="acme-created-done" variant="primary" onClick={onClose}>Close</Button>
                </ModalFooter>
            </Modal>
        );
    }
    const text = (key, label, props = {}) => (
        <FormGroup label={label} fieldId={`acme-${key}`} isRequired={props.isRequired}>
            <TextInput id={`acme-${key}`} value={form[key]} onChange={set(key)} placeholder={props.placeholder}
                       validated={fieldError(key) ? "error" : "default"} />
            <FieldError error={fieldError(key)} id={`acme-${key}-error`} />
        </FormGroup>
    );
    return (
        <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="acme-order-title">
            <ModalHeader title="New ACME order" labelId="acme-order-title"
                         description="certd asks the CA for a certificate, answers its challenge itself, binds the certificate and renews it before it expires." />
            <ModalBody>
                <Form id="acme-form" onSubmit={submit}>
                    {text("directory_url", "ACME directory URL",
                          { isRequired: true, placeholder: "https://acme-v02.api.letsencrypt.org/directory" })}
                    {text("identifiers", "Names and addresses",
                          { isRequired: true, placeholder: "www.example.com 192.0.2.10" })}
                    <FormGroup label="Challenge" fieldId="acme-challenge">
                        <FormSelect id="acme-challenge" value={form.challenge} onChange={set("challenge")}>
                            {CHALLENGES.map(([value, label]) => <FormSelectOption key={value} value={value} label={label} />)}
                        </FormSelect>
                        <FieldError error={fieldError("challenge")} id="acme-challenge-error" />
                    </FormGroup>
                    <FormGroup label="Key type" fieldId="acme-key_type">
                        <FormSelect id="acme-key_type" value={form.key_type} onChange={set("key_type")}>
                            {keyTypes.map(t => <FormSelectOption key={t} value={t} label={t} />)}
                        </FormSelect>
                        <FieldError error={fieldError("key_type")} id="acme-key_type-error" />
                    </FormGroup>
                    {text("contact", "Contact e-mail (optional)", { placeholder: "admin@example.com" })}
                    <FormGroup label="CA bundle (optional: a private CA's root)" fieldId="acme-ca_bundle">
                        <FileUpload id="acme-ca_bundle" filename={bundle?.name || ""} hideDefaultPreview
                                    browseButtonText="Choose file…" filenamePlaceholder="PEM the ACME server's TLS chain leads to"
                                    onFileInputChange={chooseBundle} onClearClick={() => chooseBundle(null, null)}
                                    validated={fieldError("ca_bundle") ? "error" : "default"} />
                        <FieldError error={fieldError("ca_bundle")} id="acme-ca_bundle-error" />
                    </FormGroup>
                    <FormGroup label="Serve it on" fieldId="acme-assign" role="group">
                        {addresses.map(address => (
                            <Checkbox key={address} id={`acme-assign-${address}`} label={address}
                                      isChecked={assign.includes(address)}
                                      onChange={(e, checked) => setAssign(checked
                                          ? [...assign, address]
                                          : assign.filter(a => a !== address))} />
                        ))}
                        <FieldError error={fieldError("assign")} id="acme-assign-error" />
                    </FormGroup>
                    {text("friendly_name", "Friendly name (optional)")}
                    <InlineError error={otherError} id="acme-error" />
                </Form>
            </ModalBody>
            <ModalFooter>
                <Button id="acme-submit" variant="primary" type="submit" form="acme-form"
                        isDisabled={busy} isLoading={busy}>Order</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

function DeleteAcmeOrderDialog({ order, onClose }) {
    const [error, setError] = useState(null);
    const remove = () => call(order.path, IFACE.acmeOrder, "Delete", []).then(onClose, setError);
    return (
        <Modal isOpen variant="small" onClose={onClose} aria-labelledby="delete-acme-title">
            <ModalHeader title={`Delete ACME order “${order.FriendlyName}”?`} labelId="delete-acme-title"
                         titleIconVariant="warning" />
            <ModalBody>
                certd stops renewing it. The certificates it brought stay, and keep serving where they are bound.
                <InlineError error={error} id="delete-acme-error" />
            </ModalBody>
            <ModalFooter>
                <Button id="delete-acme-confirm" variant="danger" onClick={remove}>Delete</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

export function AcmeOrdersTable({ state, navigate, onCreate }) {
    const [deleting, setDeleting] = useState(null);
    const [actionError, setActionError] = useState(null); // { path, error }
    const orders = Object.values(state.acmeOrders)
            .sort((a, b) => b.CreatedUSec - a.CreatedUSec || a.path.localeCompare(b.path));
    const manage = state.rights?.manage;
    const renew = order => {
        setActionError(null);
        call(order.path, IFACE.acmeOrder, "Renew", []).catch(error => setActionError({ path: order.path, error }));
    };

    const toolbar = manage && (
        <Toolbar id="acme-toolbar">
            <ToolbarContent>
                <ToolbarItem>
                    <Button id="acme-new" variant="primary" onClick={onCreate}>New ACME order</Button>
                </ToolbarItem>
            </ToolbarContent>
        </Toolbar>
    );
    if (orders.length === 0) {
        return (
            <>
                {toolbar}
                <EmptyState titleText="No ACME orders" headingLevel="h3" id="acme-empty">
                    <EmptyStateBody>
                        An ACME order gets a certificate from a CA such as Let's Encrypt and renews it automatically.
                    </EmptyStateBody>
                </EmptyState>
            </>
        );
    }
    return (
        <>
            {toolbar}
            <Table aria-label="ACME orders" id="acme-table" variant="compact">
                <Thead>
                    <Tr>
                        <Th modifier="wrap">Friendly name</Th>
                        <Th modifier="wrap">Names and addresses</Th>
                        <Th modifier="wrap">State</Th>
                        <Th modifier="wrap">Certificate</Th>
                        <Th modifier="wrap">Next renewal</Th>
                        <Th modifier="wrap">Account</Th>
                        <Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                <Tbody>
                    {orders.map(o => {
                        const cert = state.certificates[o.Certificate];
                        const account = state.acmeAccounts[o.Account];
                        return (
                            <Tr key={o.path} data-path={o.path} data-name={o.FriendlyName} data-state={o.State}
                                data-certificate={cert ? idOf(cert.path) : ""}>
                                <Td dataLabel="Friendly name">{o.FriendlyName}</Td>
                                <Td dataLabel="Names and addresses">
                                    {o.Identifiers.join(", ")}
                                    <div className="certd-acme-detail">{o.Challenge} · {o.DirectoryUrl}</div>
                                </Td>
                                <Td dataLabel="State" className="certd-acme-state">
                                    <Label color={STATE_COLORS[o.State] || "grey"} isCompact>{o.State}</Label>
                                    {o.Error &&
                                    <div className="certd-error certd-acme-error" data-error={o.ErrorName}>
                                        {o.Error} ({o.ErrorName.replace("org.certd1.Error.", "")})
                                    </div>}
                                </Td>
                                <Td dataLabel="Certificate" className="certd-acme-certificate">
                                    {cert
                                        ? <Button variant="link" isInline onClick={() => navigate(["certificate", idOf(cert.path)])}>
                                            {cert.FriendlyName}
                                        </Button>
                                        : "—"}
                                </Td>
                                <Td dataLabel="Next renewal">{o.NextRenewalUSec ? formatTime(o.NextRenewalUSec) : "—"}</Td>
                                <Td dataLabel="Account" className="certd-acme-account">
                                    {account ? `${account.Contact || "no contact"} · ${account.Url}` : "—"}
                                </Td>
                                <Td isActionCell>
                                    {manage &&
                                    <Flex flexWrap={{ default: "nowrap" }}>
                                        <Button variant="secondary" size="sm" className="certd-acme-renew"
                                                onClick={() => renew(o)}>{o.Certificate === "/" ? "Retry" : "Renew"}</Button>
                                        <Button variant="plain" size="sm" className="certd-acme-delete"
                                                aria-label={`Delete ACME order ${o.FriendlyName}`}
                                                onClick={() => setDeleting(o.path)}>Delete</Button>
                                    </Flex>}
                                    {actionError?.path === o.path &&
                                    <InlineError error={actionError.error} id="acme-action-error" />}
                                </Td>
                            </Tr>
                        );
                    })}
                </Tbody>
            </Table>
            {deleting && state.acmeOrders[deleting] &&
                <DeleteAcmeOrderDialog order={state.acmeOrders[deleting]} onClose={() => setDeleting(null)} />}
        </>
    );
}
