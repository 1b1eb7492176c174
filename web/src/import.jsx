// Import: a file of any format goes to certd as bytes (Import's ay); certd detects the
// format. An encrypted file gets a passphrase prompt when certd answers
// PassphraseRequired or BadPassphrase; the imported objects and warnings are shown.

import { useState } from "react";
import {
    Button, FileUpload, Form, FormGroup, List, ListItem, Modal, ModalBody, ModalFooter, ModalHeader, TextInput,
} from "@patternfly/react-core";

import { callManager, errorField, errorName, toBase64, variant } from "./certd.js";
import { FieldError, useChosenFile, WarningList } from "./common.jsx";

const PASSPHRASE_ERRORS = new Set(["PassphraseRequired", "BadPassphrase"]);

function describe(path, state) {
    const kind = path.split("/")[3];
    if (kind === "certificate") {
        const c = state.certificates[path];
        return c ? `Certificate “${c.FriendlyName}” (${c.Subject})` : `Certificate ${path}`;
    }
    if (kind === "key") {
        const k = state.keys[path];
        return k ? `Private key (${k.Algorithm} ${k.Bits} bits)` : `Private key ${path}`;
    }
    if (kind === "request") {
        const r = state.requests[path];
        return r ? `Request “${r.FriendlyName}”: ${r.State}` : `Request ${path}`;
    }
    return path;
}

export function ImportDialog({ state, onClose }) {
    const [friendlyName, setFriendlyName] = useState("");
    const [passphrase, setPassphrase] = useState("");
    const [askPassphrase, setAskPassphrase] = useState(false);
    const [error, setError] = useState(null);
    const [file, chooseFile] = useChosenFile(setError);
    const [busy, setBusy] = useState(false);
    const [result, setResult] = useState(null);

    const passphraseError = error && PASSPHRASE_ERRORS.has(errorName(error)) ? error : null;
    const nameError = error && errorField(error) === "friendly_name" ? error : null;
    const fileError = error && !passphraseError && !nameError ? error : null;

    const choose = (event, chosen) => {
        setError(null);
        setResult(null);
        setAskPassphrase(false);
        setPassphrase("");
        chooseFile(event, chosen);
    };

    const submit = event => {
        event?.preventDefault();
        if (!file)
            return;
        const options = {};
        if (friendlyName.trim())
            options.friendly_name = variant("s", friendlyName.trim());
        setBusy(true);
        setError(null);
        callManager("Import", [toBase64(file.data), passphrase, options])
                .then(([objects, warnings]) => setResult({ objects, warnings }))
                .catch(ex => {
                    if (PASSPHRASE_ERRORS.has(errorName(ex)))
                        setAskPassphrase(true);
                    setError(ex);
                })
                .finally(() => setBusy(false));
    };

    if (result) {
        return (
            <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="import-result-title">
                <ModalHeader title={`Imported ${file.name}`} labelId="import-result-title" />
                <ModalBody>
                    {result.objects.length === 0
                        ? <p id="import-result-none">Everything in the file was already stored.</p>
                        : <List id="import-result">
                            {result.objects.map(path => <ListItem key={path} data-path={path}>{describe(path, state)}</ListItem>)}
                        </List>}
                    <WarningList warnings={result.warnings} />
                </ModalBody>
                <ModalFooter>
                    <Button id="import-done" variant="primary" onClick={onClose}>Close</Button>
                </ModalFooter>
            </Modal>
        );
    }

    return (
        <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="import-title">
            <ModalHeader title="Import certificates and keys" labelId="import-title"
                         description="Any format: PEM or DER certificates, PKCS#7, PKCS#8 keys, PKCS#12, OpenSSL RSA/EC keys. One file may hold several certificates and a key." />
            <ModalBody>
                <Form id="import-form" onSubmit={submit}>
                    <FormGroup label="File" fieldId="import-file" isRequired>
                        <FileUpload id="import-file" filename={file?.name || ""} hideDefaultPreview
                                    browseButtonText="Choose file…" filenamePlaceholder="Drag a file here or choose one"
                                    onFileInputChange={choose} onClearClick={() => choose(null, null)}
                                    validated={fileError ? "error" : "default"} />
                        <FieldError error={fileError} id="import-file-error" />
                    </FormGroup>
                    {askPassphrase &&
                    <FormGroup label="Passphrase" fieldId="import-passphrase">
                        <TextInput id="import-passphrase" type="password" value={passphrase} autoFocus
                                   autoComplete="off" onChange={(e, v) => setPassphrase(v)}
                                   validated={passphraseError ? "error" : "default"} />
                        <FieldError error={passphraseError} id="import-passphrase-error" />
                    </FormGroup>}
                    <FormGroup label="Friendly name (optional)" fieldId="import-friendly_name">
                        <TextInput id="import-friendly_name" value={friendlyName}
                                   onChange={(e, v) => setFriendlyName(v)}
                                   validated={nameError ? "error" : "default"} />
                        <FieldError error={nameError} id="import-friendly_name-error" />
                    </FormGroup>
                </Form>
            </ModalBody>
            <ModalFooter>
                <Button id="import-submit" variant="primary" type="submit" form="import-form"
                        isDisabled={!file || busy} isLoading={busy}>Import</Button>
                <Button variant="link" onClick={onClose}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}
