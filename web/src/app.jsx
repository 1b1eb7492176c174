// The page: Certificates, Requests, ACME and Status tabs, a certificate's Edit Certificate
// Configuration page, the dialogs, and CertificateExpiring warnings at the top.
// The route lives in cockpit.location (#/requests, #/acme, #/certificate/<id>), so the
// shell's URL, back button and reload keep the view.

import { useEffect, useState } from "react";
import {
    Alert, AlertActionCloseButton, AlertGroup, EmptyState, EmptyStateBody, Label, Page, PageSection, Spinner, Tab,
    TabTitleText, Tabs, Title,
} from "@patternfly/react-core";

import { AcmeOrderDialog, AcmeOrdersTable } from "./acme.jsx";
import cockpit from "./cockpit.js";
import { dismissExpiring } from "./certd.js";
import { CertificatesTable } from "./certificates.jsx";
import { useCertd } from "./common.jsx";
import { CreateDialog } from "./create.jsx";
import { CertificateDetails } from "./details.jsx";
import { ExportDialog } from "./export.jsx";
import { formatDate } from "./format.js";
import { ImportDialog } from "./import.jsx";
import { RequestsTable } from "./requests.jsx";
import { Status } from "./status.jsx";

function useLocation() {
    const [location, setLocation] = useState({ path: cockpit.location.path, options: cockpit.location.options });
    useEffect(() => {
        const update = () => setLocation({ path: cockpit.location.path, options: cockpit.location.options });
        cockpit.addEventListener("locationchanged", update);
        return () => cockpit.removeEventListener("locationchanged", update);
    }, []);
    return location;
}

function ExpiringAlerts({ state }) {
    if (state.expiring.length === 0)
        return null;
    return (
        <AlertGroup id="expiring-alerts">
            {state.expiring.map(e => {
                const cert = state.certificates[e.path];
                const name = cert ? cert.FriendlyName : e.path;
                return (
                    <Alert key={e.id} variant="warning" isInline data-path={e.path} data-days={e.days}
                           className="certd-expiring-alert"
                           title={`Certificate “${name}” expires within ${e.days} day${e.days === 1 ? "" : "s"} (on ${formatDate(e.notAfterUSec)})`}
                           actionClose={<AlertActionCloseButton onClose={() => dismissExpiring(e.id)} />}>
                        Renew it: create a request (or re-key), have it signed, import the result and move its addresses.
                    </Alert>
                );
            })}
        </AlertGroup>
    );
}

export function App() {
    const state = useCertd();
    const { path } = useLocation();
    const [dialog, setDialog] = useState(null); // { kind, ... }
    const navigate = (to, options) => cockpit.location.go(to, options);
    const close = () => setDialog(null);

    if (state.problem && !state.loaded) {
        return (
            <Page sidebar={null}>
                <PageSection>
                    <EmptyState titleText="Cannot reach certd" headingLevel="h1" status="danger" id="certd-unreachable">
                        <EmptyStateBody>{state.problem}</EmptyStateBody>
                    </EmptyState>
                </PageSection>
            </Page>
        );
    }
    if (!state.loaded) {
        return <Page sidebar={null}><PageSection><Spinner aria-label="Loading certificates" /></PageSection></Page>;
    }

    const onExport = certPath => setDialog({ kind: "export", path: certPath });
    const viewer = state.rights && !state.rights.manage;
    let body;
    if (path[0] === "certificate" && path[1]) {
        body = <CertificateDetails state={state} id={path[1]} navigate={navigate} onExport={onExport}
                                   onRekey={cert => setDialog({ kind: "create", initialKind: "request", copyFrom: cert })} />;
    } else {
        const tab = ["requests", "acme", "status"].includes(path[0]) ? path[0] : "certificates";
        body = (
            <Tabs activeKey={tab} onSelect={(e, key) => key !== tab && navigate(key === "certificates" ? [] : [key])}
                  aria-label="certd views" id="certd-tabs" mountOnEnter unmountOnExit>
                <Tab eventKey="certificates" title={<TabTitleText id="tab-certificates">Certificates</TabTitleText>}>
                    <CertificatesTable state={state} navigate={navigate} onExport={onExport}
                                       onCreate={() => setDialog({ kind: "create" })}
                                       onImport={() => setDialog({ kind: "import" })} />
                </Tab>
                <Tab eventKey="requests" title={<TabTitleText id="tab-requests">Requests ({Object.keys(state.requests).length})</TabTitleText>}>
                    <RequestsTable state={state} navigate={navigate} />
                </Tab>
                <Tab eventKey="acme" title={<TabTitleText id="tab-acme">ACME ({Object.keys(state.acmeOrders).length})</TabTitleText>}>
                    <AcmeOrdersTable state={state} navigate={navigate} onCreate={() => setDialog({ kind: "acme" })} />
                </Tab>
                <Tab eventKey="status" title={<TabTitleText id="tab-status">Status</TabTitleText>}>
                    <Status state={state} navigate={navigate} />
                </Tab>
            </Tabs>
        );
    }

    const exported = dialog?.kind === "export" && state.certificates[dialog.path];
    return (
        <Page sidebar={null} id="certd-page" data-rights={state.rights ? (state.rights.manage ? "manage" : "read") : "unknown"}>
            <PageSection>
                <Title headingLevel="h1" size="2xl">
                    Certificates
                    {viewer && <Label color="grey" className="certd-viewer" id="viewer-label">read only</Label>}
                </Title>
                {state.problem && <Alert variant="danger" isInline title={state.problem} id="certd-problem" />}
                <ExpiringAlerts state={state} />
            </PageSection>
            <PageSection>{body}</PageSection>
            {dialog?.kind === "create" &&
                <CreateDialog initialKind={dialog.initialKind} copyFrom={dialog.copyFrom} keys={state.keys} onClose={close}
                              onCreated={created => navigate(["certificate", created.split("/").pop()])} />}
            {dialog?.kind === "import" && <ImportDialog state={state} onClose={close} />}
            {dialog?.kind === "acme" && <AcmeOrderDialog state={state} onClose={close} />}
            {exported && <ExportDialog certificate={exported} rights={state.rights} onClose={close} />}
        </Page>
    );
}
