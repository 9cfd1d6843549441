import { Link, Text } from "@chakra-ui/react";
import { useMutation } from "@tanstack/react-query";
import { type MouseEvent, type ReactNode } from "react";

import { api } from "../common/api";

/**
 * A link to a report beside a moved file. A click asks the API first whether the report is still
 * there (a re-import moves the file on and removes its old reports): if it is, it downloads; if
 * not, the page says why, in place, instead of opening a raw JSON 404.
 */
export const ReportLink = ({
  children,
  name,
  reportKey,
}: {
  readonly name: string;
  readonly reportKey: string;
  readonly children: ReactNode;
}) => {
  const href = api.reportUrl(name, reportKey);
  const check = useMutation({
    mutationFn: () => api.checkReport(name, reportKey),
    onSuccess: (found) => {
      if (found.exists) window.location.assign(href); // an attachment: it downloads, the page stays
    },
  });
  const open = (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    check.mutate();
  };
  const gone = check.error
    ? check.error.message
    : check.data && !check.data.exists
      ? (check.data.reason ?? "it does not exist any more")
      : null;
  return (
    <>
      <Link
        href={href}
        colorPalette="brand"
        onClick={open}
        aria-busy={check.isPending}
        data-report={reportKey}
      >
        {children}
      </Link>
      {gone ? (
        <Text as="span" fontSize="xs" color="red.fg" role="alert" data-report-gone={reportKey}>
          this report is gone: {gone}
        </Text>
      ) : null}
    </>
  );
};
