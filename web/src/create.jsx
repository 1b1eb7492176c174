// Create: the self-signed form and the CSR form (one form, two kinds), and after a
// CSR its request data with a copy button and a download.

import { useEffect, useState } from "react";
import {
    ActionGroup, Alert, Button, Form, FormGroup, FormSelect, FormSelectOption, FormSelectOptionGroup,
    Label, LabelGroup, Modal, ModalBody, ModalFooter, ModalHeader, Radio, TextInput, InputGroup, InputGroupItem,
} from "@patternfly/react-core";

import { callManager, errorField, fileStem, getProperty, IFACE, ROOT, variant } from "./certd.js";
import { FieldError, InlineError, WarningList } from "./common.jsx";
import { keyTypeOptions } from "./format.js";
import { RequestData } from "./requests.jsx";

// The subject fields, in the seed's order, with certd's spec keys.
const SUBJECT = [
    ["country", "Country (C)", "Two letters, ISO 3166: DE, US"],
    ["state", "State or province (ST)", "Spelled out: Bavaria, not BY"],
    ["locality", "Locality (L)", ""],
    ["organization", "Organization (O)", ""],
    ["organizational_unit", "Organizational unit (OU)", ""],
    ["common_name", "Common name (CN)", "www.example.com"],
];

export function CreateDialog({ initialKind, keys, copyFrom, onClose, onCreated }) {
    // The key types certd accepts (Manager.KeyTypes, constant): read once per dialog.
    const [keyTypes, setKeyTypes] = useState([]);
    useEffect(() => {
        getProperty(ROOT, IFACE.manager, "KeyTypes").then(setKeyTypes, () => setKeyTypes(["rsa2048"]));
    }, []);
    const [kind, setKind] = useState(initialKind || "self-signed");
    const [fields, setFields] = useState({ friendly_name: "", days: "365" });
    const [keyChoice, setKeyChoice] = useState("rsa2048");
    const [sanType, setSanType] = useState("DNS");
    const [sanValue, setSanValue] = useState("");
    const [sans, setSans] = useState([]);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const [result, setResult] = useState(null); // { path, warnings, pem, name }

    const fieldError = key => (error && errorField(error) === key ? error : null);
    // Errors that name no field of this form go at the bottom, by the Create button.
    const formKeys = new Set(["friendly_name", "key_type", "key", "days", "subject_alt_names", "copy_from",
        ...SUBJECT.map(([k]) => k)]);
    const generalError = error && !formKeys.has(errorField(error)) ? error : null;

    const set = key => (event, value) => setFields(f => ({ ...f, [key]: value }));

    const addSan = () => {
        const value = sanValue.trim();
        if (!value)
            return;
        const entry = `${sanType}:${value}`;
        if (!sans.includes(entry))
            setSans([...sans, entry]);
        setSanValue("");
    };

    const submit = event => {
        event?.preventDefault();
        const spec = {};
        if (fields.friendly_name.trim())
            spec.friendly_name = variant("s", fields.friendly_name.trim());
        if (keyChoice.startsWith("/"))
            spec.key = variant("o", keyChoice);
        else
            spec.key_type = variant("s", keyChoice);
        if (copyFrom) {
            spec.copy_from = variant("o", copyFrom.path);
        } else {
            for (const [key] of SUBJECT) {
                const value = (fields[key] || "").trim();
                if (value)
                    spec[key] = variant("s", value);
            }
            if (sans.length > 0)
                spec.subject_alt_names = variant("as", sans);
        }
        if (kind === "self-signed") {
            const days = Number(fields.days);
            spec.days = variant("u", Number.isInteger(days) && days >= 0 ? days : 0);
        }
        setBusy(true);
        setError(null);
        const method = kind === "self-signed" ? "CreateSelfSigned" : "CreateRequest";
        callManager(method, [spec])
                .then(([path, warnings]) => {
                    if (kind === "self-signed") {
                        onCreated?.(path, warnings);
                        onClose();
                        return;
                    }
                    return Promise.all([getProperty(path, IFACE.request, "RequestPem"),
                        getProperty(path, IFACE.request, "FriendlyName")])
                            .then(([pem, name]) => setResult({ path, warnings, pem, name }));
                })
                .catch(setError)
                .finally(() => setBusy(false));
    };

    const title = copyFrom
        ? `Re-key “${copyFrom.FriendlyName}”: new key, same subject`
        : (kind === "self-signed" ? "Create a self-signed certificate" : "Create a certificate signing request");

    if (result) {
        return (
            <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="create-result-title">
                <ModalHeader title={`Certificate signing request “${result.name}”`} labelId="create-result-title" />
                <ModalBody>
                    <p className="certd-hint">
                        Paste the request data into your certificate authority's form, or send the file.
                        When the signed certificate comes back, import it: certd links it to this request's key.
                    </p>
                    <RequestData pem={result.pem} filename={`${fileStem(result.name)}.csr`} idPrefix="created-request" />
                    <WarningList warnings={result.warnings} />
                </ModalBody>
                <ModalFooter>
                    <Button id="create-done" variant="primary" onClick={onClose}>Close</Button>
                </ModalFooter>
            </Modal>
        );
    }

    const keyOptions = Object.values(keys || {}).sort((a, b) => a.path.localeCompare(b.path));

    return (
        <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="create-title">
            <ModalHeader title={title} labelId="create-title" />
            <ModalBody>
                <Form id="create-form" onSubmit={submit} isHorizontal>
                    {!copyFrom &&
                    <FormGroup role="radiogroup" isInline fieldId="create-kind" label="Kind">
                        <Radio id="create-kind-self-signed" name="create-kind" label="Self-signed certificate"
                               isChecked={kind === "self-signed"} onChange={() => setKind("self-signed")} />
                        <Radio id="create-kind-request" name="create-kind" label="Certificate signing request (CSR)"
                               isChecked={kind === "request"} onChange={() => setKind("request")} />
                    </FormGroup>}
                    <FormGroup label="Friendly name" fieldId="create-friendly_name">
                        <TextInput id="create-friendly_name" value={fields.friendly_name}
                                   onChange={set("friendly_name")}
                                   validated={fieldError("friendly_name") ? "error" : "default"} />
                        <FieldError error={fieldError("friendly_name")} id="create-friendly_name-error" />
                    </FormGroup>
                    <FormGroup label="Key" fieldId="create-key">
                        <FormSelect id="create-key" value={keyChoice} onChange={(e, v) => setKeyChoice(v)}
                                    validated={fieldError("key_type") || fieldError("key") ? "error" : "default"}>
                            <FormSelectOptionGroup label="New key">
                                {keyTypeOptions(keyTypes).map(([value, label]) => <FormSelectOption key={value} value={value} label={label} />)}
                            </FormSelectOptionGroup>
                            {!copyFrom && kind === "request" && keyOptions.length > 0 &&
                            <FormSelectOptionGroup label="Existing key (renewal)">
                                {keyOptions.map(k => (
                                    <FormSelectOption key={k.path} value={k.path}
                                                      label={`${k.Algorithm} ${k.Bits} bits · ${k.FingerprintSHA256.substring(0, 16)}…`} />
                                ))}
                            </FormSelectOptionGroup>}
                        </FormSelect>
                        <FieldError error={fieldError("key_type") || fieldError("key")} id="create-key-error" />
                    </FormGroup>
                    {!copyFrom && SUBJECT.map(([key, label, placeholder]) => (
                        <FormGroup key={key} label={label} fieldId={`create-${key}`}>
                            <TextInput id={`create-${key}`} value={fields[key] || ""} onChange={set(key)}
                                       placeholder={placeholder}
                                       validated={fieldError(key) ? "error" : "default"} />
                            <FieldError error={fieldError(key)} id={`create-${key}-error`} />
                        </FormGroup>
                    ))}
                    {!copyFrom &&
                    <FormGroup label="Subject alternative names" fieldId="create-san-value">
                        <InputGroup>
                            <InputGroupItem>
                                <FormSelect id="create-san-type" value={sanType} aria-label="Name type"
                                            onChange={(e, v) => setSanType(v)}>
                                    <FormSelectOption value="DNS" label="DNS" />
                                    <FormSelectOption value="IP" label="IP" />
                                </FormSelect>
                            </InputGroupItem>
                            <InputGroupItem isFill>
                                <TextInput id="create-san-value" value={sanValue} aria-label="Alternative name"
                                           placeholder="www.example.com, *.example.com or 192.0.2.1"
                                           onChange={(e, v) => setSanValue(v)}
                                           onKeyDown={e => { if (e.key === "Enter") { e.preventDefault(); addSan() } }}
                                           validated={fieldError("subject_alt_names") ? "error" : "default"} />
                            </InputGroupItem>
                            <InputGroupItem>
                                <Button id="create-san-add" variant="control" onClick={addSan}>Add</Button>
                            </InputGroupItem>
                        </InputGroup>
                        <LabelGroup id="create-sans" numLabels={20} className="certd-sans">
                            {sans.map(san => (
                                <Label key={san} onClose={() => setSans(sans.filter(s => s !== san))}
                                       closeBtnAriaLabel={`Remove ${san}`} data-san={san}>
                                    {san}
                                </Label>
                            ))}
                        </LabelGroup>
                        <FieldError error={fieldError("subject_alt_names")} id="create-san-error" />
                    </FormGroup>}
                    {kind === "self-signed" &&
                    <FormGroup label="Valid for (days)" fieldId="create-days">
                        <TextInput id="create-days" type="number" value={fields.days} onChange={set("days")}
                                   validated={fieldError("days") ? "error" : "default"} />
                        <FieldError error={fieldError("days")} id="create-days-error" />
                    </FormGroup>}
                    {copyFrom && <FieldError error={fieldError("copy_from")} id="create-copy_from-error" />}
                    {generalError &&
                    <Alert variant="danger" isInline title="certd refused the request" id="create-error">
                        <InlineError error={generalError} />
                    </Alert>}
                </Form>
            </ModalBody>
            <ModalFooter>
                <ActionGroup>
                    <Button id="create-submit" variant="primary" type="submit" form="create-form"
                            isLoading={busy} isDisabled={busy}>
                        {kind === "self-signed" ? "Create certificate" : "Create request"}
                    </Button>
                    <Button variant="link" onClick={onClose}>Cancel</Button>
                </ActionGroup>
            </ModalFooter>
        </Modal>
    );
}
