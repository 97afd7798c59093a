/**
 * The hosted pages' texts in French, keyed by their English source text (gettext style: the
 * English text is the key, so a page renders its own English when a catalogue lacks an entry).
 * `{n}`-style placeholders stand for values put in by the page.
 */
export const fr: Readonly<Record<string, string>> = {
  // Shared
  'to continue to {client}': 'pour continuer vers {client}',
  '{name} logo': 'Logo de {name}',
  'This form has expired. Please sign in again.':
    'Ce formulaire a expiré. Veuillez vous reconnecter.',
  'This form has expired. Please try again.': 'Ce formulaire a expiré. Veuillez réessayer.',
  'Too many requests': 'Trop de requêtes',
  'Too many requests from here. Try again later.':
    'Trop de requêtes depuis cet endroit. Réessayez plus tard.',
  'Too many attempts. Try again later.': 'Trop de tentatives. Réessayez plus tard.',
  'Not available': 'Indisponible',
  'This page is not available on this server.': "Cette page n'est pas disponible sur ce serveur.",
  'Please complete the check.': 'Veuillez compléter la vérification.',
  Email: 'Adresse e-mail',
  Password: 'Mot de passe',
  'New password': 'Nouveau mot de passe',
  'Current password': 'Mot de passe actuel',
  'Enter your email address.': 'Saisissez votre adresse e-mail.',
  // Sign-in
  'Sign in': 'Connexion',
  Username: "Nom d'utilisateur",
  'Forgot your password?': 'Mot de passe oublié ?',
  'Create an account': 'Créer un compte',
  or: 'ou',
  'Sign in with a passkey': "Se connecter avec une clé d'accès",
  'Sign in with {name}': 'Se connecter avec {name}',
  'Sign-in expired': 'Connexion expirée',
  'This sign-in page has expired or is not valid. Go back to the application and sign in again.':
    "Cette page de connexion a expiré ou n'est pas valide. Revenez à l'application et reconnectez-vous.",
  'Incorrect username or password.': "Nom d'utilisateur ou mot de passe incorrect.",
  'Enter your username and password.': "Saisissez votre nom d'utilisateur et votre mot de passe.",
  'Too many sign-in attempts. Try again in {n} minutes.':
    'Trop de tentatives de connexion. Réessayez dans {n} minutes.',
  'Too many sign-in attempts. Try again in {n} minute.':
    'Trop de tentatives de connexion. Réessayez dans {n} minute.',
  // Two-step verification
  'Two-step verification': 'Validation en deux étapes',
  'Code from your authenticator app, or a recovery code':
    "Code de votre application d'authentification, ou code de secours",
  Verify: 'Valider',
  'That code is not valid. Try again.': "Ce code n'est pas valide. Réessayez.",
  'Too many wrong codes. Try again in {n} minutes.':
    'Trop de codes erronés. Réessayez dans {n} minutes.',
  'Too many wrong codes. Try again in {n} minute.':
    'Trop de codes erronés. Réessayez dans {n} minute.',
  // Sign-up
  'Create account': 'Créer le compte',
  'Name (optional)': 'Nom (facultatif)',
  'I have an account: sign in': "J'ai un compte : me connecter",
  'Sign-up expired': 'Inscription expirée',
  'This page has expired. Go back to the application and start again.':
    "Cette page a expiré. Revenez à l'application et recommencez.",
  'Too many sign-ups from here. Try again later.':
    "Trop d'inscriptions depuis cet endroit. Réessayez plus tard.",
  'Use an address of letters, digits and . _ @ + - only, at most 128 characters.':
    'Utilisez une adresse composée uniquement de lettres, de chiffres et de . _ @ + -, 128 caractères au plus.',
  'An account with this address exists already. Sign in, or reset your password.':
    'Un compte existe déjà avec cette adresse. Connectez-vous, ou réinitialisez votre mot de passe.',
  // Password reset
  'Reset your password': 'Réinitialiser votre mot de passe',
  'Enter the email address of your account. We will send you a link to choose a new password.':
    'Saisissez l’adresse e-mail de votre compte. Nous vous enverrons un lien pour choisir un nouveau mot de passe.',
  'Send the link': 'Envoyer le lien',
  'Check your mail': 'Consultez votre messagerie',
  'If an account uses that address, we have sent it a link to choose a new password. Check your mail.':
    'Si un compte utilise cette adresse, nous lui avons envoyé un lien pour choisir un nouveau mot de passe. Consultez votre messagerie.',
  'Choose a new password': 'Choisissez un nouveau mot de passe',
  'for {user}': 'pour {user}',
  'Change password': 'Changer le mot de passe',
  'Link not valid': 'Lien non valide',
  'This link is not valid: it was used already, it has expired, or it was changed.':
    "Ce lien n'est pas valide : il a déjà servi, il a expiré, ou il a été modifié.",
  'Try again': 'Réessayez',
  'Your account changed meanwhile. Ask for a new link.':
    'Votre compte a changé entre-temps. Demandez un nouveau lien.',
  'Your account changed meanwhile. Ask for a new verification link.':
    'Votre compte a changé entre-temps. Demandez un nouveau lien de vérification.',
  'Password changed': 'Mot de passe changé',
  'Your password was changed and every session of your account was signed out. Go back to your application and sign in with the new password.':
    'Votre mot de passe a été changé et toutes les sessions de votre compte ont été fermées. Revenez à votre application et connectez-vous avec le nouveau mot de passe.',
  'Address verified': 'Adresse vérifiée',
  // Account
  'Your account': 'Votre compte',
  'Signed in as {user}': 'Connecté en tant que {user}',
  'Not signed in': 'Non connecté',
  'Sign in through your application first, then open this page again.':
    "Connectez-vous d'abord par votre application, puis rouvrez cette page.",
  'No email address is set for your account.':
    "Aucune adresse e-mail n'est enregistrée pour votre compte.",
  '(verified)': '(vérifiée)',
  '(not verified)': '(non vérifiée)',
  'Applications that need a verified address wait until you open the link we sent to it.':
    'Les applications qui exigent une adresse vérifiée attendent que vous ouvriez le lien que nous y avons envoyé.',
  'Send the verification mail again': "Renvoyer l'e-mail de vérification",
  'Back to the application': "Retour à l'application",
  'Change your password': 'Changer votre mot de passe',
  'Your address is verified already.': 'Votre adresse est déjà vérifiée.',
  'We sent a new verification link to {email}.':
    'Nous avons envoyé un nouveau lien de vérification à {email}.',
  'Your current password is not correct.': "Votre mot de passe actuel n'est pas correct.",
  'Your account changed meanwhile. Try again.': 'Votre compte a changé entre-temps. Réessayez.',
  'Your password was changed. Every other session of your account was signed out.':
    'Votre mot de passe a été changé. Toutes les autres sessions de votre compte ont été fermées.',
  // Two-step verification set-up (/account/mfa)
  'Set up two-step verification': 'Activer la validation en deux étapes',
  'Scan this code with an authenticator app (Google Authenticator, 1Password, Authy ...).':
    "Scannez ce code avec une application d'authentification (Google Authenticator, 1Password, Authy ...).",
  'QR code': 'Code QR',
  'Or enter this key:': 'Ou saisissez cette clé :',
  'The 6-digit code the app shows': "Le code à 6 chiffres affiché par l'application",
  'Turn on': 'Activer',
  'Enter a code from your authenticator app, or a recovery code, to continue.':
    "Saisissez un code de votre application d'authentification, ou un code de secours, pour continuer.",
  Code: 'Code',
  'Two-step verification is on': 'La validation en deux étapes est activée',
  'You have {n} unused recovery code.': 'Il vous reste {n} code de secours inutilisé.',
  'You have {n} unused recovery codes.': 'Il vous reste {n} codes de secours inutilisés.',
  Verified: 'Vérifié',
  'Save these recovery codes somewhere safe. Each works once, if you lose your phone. They are not shown again.':
    'Conservez ces codes de secours en lieu sûr. Chacun sert une fois, si vous perdez votre téléphone. Ils ne seront plus affichés.',
  'You can close this page and go back to the application.':
    "Vous pouvez fermer cette page et revenir à l'application.",
  'Too many wrong codes. Try again later.': 'Trop de codes erronés. Réessayez plus tard.',
  'You are not signed in here. Go back to the application and sign in again.':
    "Vous n'êtes pas connecté ici. Revenez à l'application et reconnectez-vous.",
  'Sign in again': 'Reconnectez-vous',
  'Setting up two-step verification needs a recent sign-in. Go back to the application and sign in again.':
    "L'activation de la validation en deux étapes demande une connexion récente. Revenez à l'application et reconnectez-vous.",
  // Sign-out (/logout)
  'Sign out?': 'Se déconnecter ?',
  'Sign out of {client}?': 'Se déconnecter de {client} ?',
  'Sign out and every application that uses this sign-in?':
    'Se déconnecter, ainsi que toutes les applications qui utilisent cette connexion ?',
  'Sign out of {client} and every application that uses this sign-in?':
    'Se déconnecter de {client} et de toutes les applications qui utilisent cette connexion ?',
  'Sign out': 'Se déconnecter',
  'Stay signed in': 'Rester connecté',
  'If you did not ask to sign out, choose Stay signed in or close this page.':
    "Si vous n'avez pas demandé à vous déconnecter, choisissez Rester connecté ou fermez cette page.",
  'Sign-out not confirmed': 'Déconnexion non confirmée',
  'This sign-out form has expired. Go back to the application and sign out again.':
    "Ce formulaire de déconnexion a expiré. Revenez à l'application et déconnectez-vous à nouveau.",
  'Not signed out': 'Non déconnecté',
  'Nothing was signed out. You can close this page.':
    "Aucune déconnexion n'a eu lieu. Vous pouvez fermer cette page.",
  'Signed out': 'Déconnecté',
  'You are signed out. You can close this page.':
    'Vous êtes déconnecté. Vous pouvez fermer cette page.',
  // Passkeys (/passkeys)
  Passkeys: "Clés d'accès",
  'You have no passkeys yet.': "Vous n'avez pas encore de clé d'accès.",
  'Name of the new passkey': "Nom de la nouvelle clé d'accès",
  'Add a passkey': "Ajouter une clé d'accès",
  'To add a passkey, sign in again (a recent sign-in is needed).':
    "Pour ajouter une clé d'accès, reconnectez-vous (une connexion récente est nécessaire).",
  'Sign in required': 'Connexion requise',
  'Sign in to an application with your account in this browser, then open this page again.':
    'Connectez-vous à une application avec votre compte dans ce navigateur, puis rouvrez cette page.',
  'Sign in again to add a passkey.': "Reconnectez-vous pour ajouter une clé d'accès.",
  'The passkey could not be added. Please try again.':
    "La clé d'accès n'a pas pu être ajoutée. Veuillez réessayer.",
  'This passkey is already registered.': "Cette clé d'accès est déjà enregistrée.",
}
