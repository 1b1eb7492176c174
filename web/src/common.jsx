// Small pieces every view uses.

import { useState, useSyncExternalStore } from "react";
import {
    Alert, Button, FormHelperText, HelperText, HelperTextItem, Label, LabelGroup, List, ListItem, Tooltip,
} from "@patternfly/react-core";

import { getSnapshot, subscribe, errorText } from "./certd.js";

export function useCertd() {
    return useSyncExternalStore(subscribe, getSnapshot);
}

// A file picked in a FileUpload, read into memory: [file ({ name, data: ArrayBuffer }) or
// null, choose]. choose is the FileUpload's onFileInputChange; choose(null, null) clears.
export function useChosenFile(onError) {
    const [file, setFile] = useState(null);
    const choose = (event, chosen) => {
        if (!chosen) {
            setFile(null);
            return;
        }
        chosen.arrayBuffer().then(data => setFile({ name: chosen.name, data }), onError);
    };
    return [file, choose];
}

// certd's error for one control, right under it.
export function FieldError({ error, id }) {
    if (!error)
        return null;
    return (
        <FormHelperText>
            <HelperText id={id}>
                <HelperTextItem variant="error" className="certd-error">{errorText(error)}</HelperTextItem>
            </HelperText>
        </FormHelperText>
    );
}

// An error next to a button (not in a form group).
export function InlineError({ error, id }) {
    if (!error)
        return null;
    return (
        <HelperText id={id} className="certd-inline-error">
            <HelperTextItem variant="error" className="certd-error">{errorText(error)}</HelperTextItem>
        </HelperText>
    );
}

const SEVERE = new Set(["expired", "not-yet-valid", "no-private-key", "weak-key", "sha1-signature"]);

// a(ss) warnings as labels; the sentence is in the tooltip and the accessible name.
export function WarningLabels({ warnings }) {
    if (!warnings || warnings.length === 0)
        return null;
    return (
        <LabelGroup numLabels={4} className="certd-warnings">
            {warnings.map(([code, text]) => (
                <Tooltip key={code} content={text}>
                    <Label color={SEVERE.has(code) ? "red" : "orange"} isCompact aria-label={text}
                           data-warning={code}>
                        {code}
                    </Label>
                </Tooltip>
            ))}
        </LabelGroup>
    );
}

// Warnings returned by a call: (code, text) pairs in full.
export function WarningList({ warnings, title }) {
    if (!warnings || warnings.length === 0)
        return null;
    return (
        <Alert variant="warning" isInline isPlain title={title || "Warnings"} className="certd-call-warnings">
            <List>
                {warnings.map(([code, text]) => <ListItem key={code + text}><code>{code}</code>: {text}</ListItem>)}
            </List>
        </Alert>
    );
}

// Copies text with the async clipboard API, falling back to a selection copy.
export function CopyButton({ text, id }) {
    const [copied, setCopied] = useState(false);
    const copy = () => {
        const done = () => setCopied(true);
        const fallback = () => {
            const area = document.createElement("textarea");
            area.value = text;
            document.body.appendChild(area);
            area.select();
            document.execCommand("copy");
            area.remove();
            done();
        };
        if (navigator.clipboard && window.isSecureContext)
            navigator.clipboard.writeText(text).then(done, fallback);
        else
            fallback();
    };
    return (
        <Button id={id} variant="secondary" onClick={copy}>
            {copied ? "Copied" : "Copy to clipboard"}
        </Button>
    );
}
