// Export: format, include the certificate / private key / chain, passphrase; the file
// downloads in the browser. "Include private key" is offered only to a caller that
// holds the key-export right (Manager.GetCallerRights), and only when certd has the key.

import { useState } from "react";
import {
    Button, Checkbox, Form, FormGroup, FormSelect, FormSelectOption, Modal, ModalBody, ModalFooter, ModalHeader,
    TextInput,
} from "@patternfly/react-core";

import { call, download, errorField, errorName, fileStem, fromBase64, IFACE, variant } from "./certd.js";
import { FieldError } from "./common.jsx";
import { EXPORT_FORMATS, exportExtension } from "./format.js";

export function ExportDialog({ certificate, rights, onClose }) {
    const [format, setFormat] = useState("auto");
    const [includeCertificate, setIncludeCertificate] = useState(true);
    const [includeKey, setIncludeKey] = useState(false);
    const [includeChain, setIncludeChain] = useState(false);
    const [passphrase, setPassphrase] = useState("");
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);

    const offerKey = !!rights?.exportPrivateKey && certificate.HasPrivateKey;
    const usesPassphrase = includeKey || format === "pkcs12";

    // Where certd's answer belongs: the option it names, the key checkbox for key
    // errors, otherwise the export button.
    const field = errorField(error);
    const name = errorName(error);
    const at = {
        format: field === "format" ? error : null,
        passphrase: field === "passphrase" ? error : null,
        key: (name === "AccessDenied" || name === "NoPrivateKey" || field === "include_private_key") ? error : null,
    };
    const general = error && !at.format && !at.passphrase && !at.key ? error : null;

    const submit = event => {
        event?.preventDefault();
        const options = {
            format: variant("s", format),
            include_certificate: variant("b", includeCertificate),
            include_private_key: variant("b", includeKey),
            include_chain: variant("b", includeChain),
        };
        if (usesPassphrase && passphrase)
            options.passphrase = variant("s", passphrase);
        setBusy(true);
        setError(null);
        call(certificate.path, IFACE.certificate, "Export", [options])
                .then(([data]) => {
                    const ext = exportExtension(format, {
                        certificate: includeCertificate,
                        key: includeKey,
                        chain: includeChain && certificate.Chain.length > 0,
                    });
                    download(`${fileStem(certificate.FriendlyName)}.${ext}`, fromBase64(data));
                    onClose();
                })
                .catch(setError)
                .finally(() => setBusy(false));
    };

    return (
        <Modal isOpen variant="small" onClose={onClose} aria-labelledby="export-title">
            <ModalHeader title={`Export “${certificate.FriendlyName}”`} labelId="export-title" />
            <ModalBody>
                <Form id="export-form" onSubmit={submit}>
                    <FormGroup label="Format" fieldId="export-format">
                        <FormSelect id="export-format" value={format} onChange={(e, v) => setFormat(v)}
                                    validated={at.format ? "error" : "default"}>
                            {EXPORT_FORMATS.map(([value, label]) => <FormSelectOption key={value} value={value} label={label} />)}
                        </FormSelect>
                        <FieldError error={at.format} id="export-format-error" />
                    </FormGroup>
                    <FormGroup role="group" fieldId="export-include" label="Include">
                        <Checkbox id="export-include-certificate" label="The certificate"
                                  isChecked={includeCertificate} onChange={(e, v) => setIncludeCertificate(v)} />
                        {offerKey &&
                        <Checkbox id="export-include-key" label="The private key (the export is audited)"
                                  isChecked={includeKey} onChange={(e, v) => setIncludeKey(v)} />}
                        <FieldError error={at.key} id="export-include-key-error" />
                        <Checkbox id="export-include-chain"
                                  label={`The chain (${certificate.Chain.length} issuer${certificate.Chain.length === 1 ? "" : "s"})`}
                                  isChecked={includeChain} onChange={(e, v) => setIncludeChain(v)} />
                    </FormGroup>
                    {usesPassphrase &&
                    <FormGroup label="Passphrase" fieldId="export-passphrase">
                        <TextInput id="export-passphrase" type="password" value={passphrase} autoComplete="new-password"
                                   onChange={(e, v) => setPassphrase(v)}
                                   validated={at.passphrase ? "error" : "default"} />
                        <FieldError error={at.passphrase} id="export-passphrase-error" />
                    </FormGroup>}
                    <FieldError error={general} id="export-error" />
                </Form>
            </ModalBody>
            <ModalFooter>
                <Button id="export-submit" variant="primary" type="submit" form="export-form"
                        isLoading={busy} isDisabled={busy}>Export</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
