// Toasts after actions (on/off, run now, re-import), as Airflow's UI renders them
// (src/components/ui/Toaster.tsx): one toaster, placed once at the app's root.
import { Portal, Spinner, Stack, Toast, Toaster as ChakraToaster, createToaster } from "@chakra-ui/react";

export const toaster = createToaster({ pauseOnPageIdle: true, placement: "bottom-end" });

export const Toaster = () => (
  <Portal>
    <ChakraToaster insetInline={{ mdDown: "4" }} toaster={toaster}>
      {(toast) => (
        <Toast.Root width={{ md: "sm" }}>
          {toast.type === "loading" ? <Spinner color="blue.solid" size="sm" /> : <Toast.Indicator />}
          <Stack flex="1" gap="1" maxWidth="100%">
            {toast.title ? <Toast.Title>{toast.title}</Toast.Title> : null}
            {toast.description ? <Toast.Description>{toast.description}</Toast.Description> : null}
          </Stack>
          {toast.meta?.closable ? <Toast.CloseTrigger /> : null}
        </Toast.Root>
      )}
    </ChakraToaster>
  </Portal>
);
