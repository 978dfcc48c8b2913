// The API's types as the editor names them. Every one is generated from the server's OpenAPI
// document (generated/openapi.d.ts, by openapi-typescript; tests/integration/openapi.rs fails
// when it no longer matches what the server serves), so a change to the API shows up here as a
// type error instead of a surprise at run time.

import type { components } from './generated/openapi'

type Schemas = components['schemas']

export type Role = Schemas['Role']
export type Tokens = Schemas['Tokens']
export type Member = Schemas['MemberView']
export type AccountWithRole = Schemas['AccountWithRole']
export type Listed = Schemas['Listed']
export type InvitationPreview = Schemas['InvitationPreview']
export type Thread = Schemas['Thread']
export type PlacedComment = Schemas['PlacedComment']
export type Billing = Schemas['Billing']
export type UsageRow = Schemas['UsageRow']
export type Version = Schemas['Version']
export type Transition = Schemas['Transition']
export type WorkflowView = Schemas['WorkflowView']
export type Hit = Schemas['Hit']
export type Variation = Schemas['Variation']
export type Generation = Schemas['Generation']
export type Quote = Schemas['Quote']
export type SuggestionResult = Schemas['SuggestionResult']
export type Notification = Schemas['Notification']
export type NotificationSettings = Schemas['NotificationSettings']
export type InboxPage = Schemas['InboxPage']
export type Me = Schemas['Me']
export type MfaChallenge = Schemas['MfaChallenge']
export type MfaStatus = Schemas['MfaStatus']
export type Enrolment = Schemas['Enrolment']
export type RecoveryCodes = Schemas['RecoveryCodes']
export type SecuritySettings = Schemas['SecuritySettings']
export type MyInvitation = Schemas['MyInvitation']
export type Channel = Schemas['ChannelView']
export type TargetDelivery = Schemas['TargetDelivery']
export type CalendarEntry = Schemas['CalendarEntry']
export type DocumentAnalytics = Schemas['DocumentAnalytics']
export type Sample = Schemas['Sample']
export type BestTimes = Schemas['BestTimes']
